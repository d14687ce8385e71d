package cloud

import (
	"encoding/json"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// LoadReport sums a load run up (or, for Progress, the run so far).
type LoadReport struct {
	Tally                 // every request of the run
	Resends int64         // re-sent attempts
	Elapsed time.Duration // from the first send to the last answer (to now, in a snapshot)
	Sending time.Duration // how long requests were being sent (Duration, unless interrupted)

	// Kinds is the same per kind of request ("receipt", "products", "catalogue", "re-send", …:
	// LoadOptions.Mix says which), over the whole run.
	Kinds map[string]Tally
	// Windows cuts the run by LoadOptions.Window, each request in the window it was due in
	// (only the windows complete so far, in a snapshot); none without a Window.
	Windows []LoadWindow

	Interrupted bool // the run was stopped before its Duration
}

// Tally is how a set of requests ended: a run's, a kind's or a window's.
type Tally struct {
	Sent     int            // requests sent
	Answered int            // of them, finished: an answer, or given up
	Dropped  int            // arrivals not sent because MaxInFlight were in flight
	ByStatus map[string]int // "200", "500", "error", "interrupted", …
	P50      time.Duration  // latency percentiles of the finished requests, re-sends included, interrupted ones not
	P90      time.Duration
	P99      time.Duration
	Max      time.Duration
}

// Errors counts the finished requests that did not end in 200.
func (t Tally) Errors() int { return t.Answered - t.ByStatus["200"] }

// LoadWindow is one window of a run: the requests due from Start for Length.
type LoadWindow struct {
	Index         int           // 0, 1, …
	Start, Length time.Duration // from the run's start; the last window may be shorter
	Tally
	Kinds map[string]Tally
}

// Rate is the arrival rate achieved in the window: requests sent (or dropped) per second.
func (w LoadWindow) Rate() float64 {
	if w.Length <= 0 {
		return 0
	}
	return float64(w.Sent+w.Dropped) / w.Length.Seconds()
}

// Rate is the arrival rate achieved: requests sent per second of sending.
func (r LoadReport) Rate() float64 {
	if r.Sending <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Sending.Seconds()
}

// tallyJSON is a Tally for machines; the field names are LoadReport's own.
type tallyJSON struct {
	Requests int            `json:"requests"`
	Answered int            `json:"answered"`
	Dropped  int            `json:"dropped"`
	Errors   int            `json:"errors"`
	Statuses map[string]int `json:"statuses"`
	P50      float64        `json:"p50_ms"`
	P90      float64        `json:"p90_ms"`
	P99      float64        `json:"p99_ms"`
	Max      float64        `json:"max_ms"`
}

func (t Tally) forJSON() tallyJSON {
	return tallyJSON{t.Sent, t.Answered, t.Dropped, t.Errors(), t.ByStatus, millis(t.P50), millis(t.P90), millis(t.P99), millis(t.Max)}
}

func (t *Tally) fromJSON(j tallyJSON) {
	*t = Tally{Sent: j.Requests, Answered: j.Answered, Dropped: j.Dropped, ByStatus: j.Statuses,
		P50: fromMillis(j.P50), P90: fromMillis(j.P90), P99: fromMillis(j.P99), Max: fromMillis(j.Max)}
}

func kindsJSON(kinds map[string]Tally) map[string]tallyJSON {
	if kinds == nil {
		return nil
	}
	out := make(map[string]tallyJSON, len(kinds))
	for k, t := range kinds {
		out[k] = t.forJSON()
	}
	return out
}

func kindsFromJSON(kinds map[string]tallyJSON) map[string]Tally {
	if kinds == nil {
		return nil
	}
	out := make(map[string]Tally, len(kinds))
	for k, j := range kinds {
		var t Tally
		t.fromJSON(j)
		out[k] = t
	}
	return out
}

// windowJSON is a LoadWindow for machines (`load --json --window`: one line each as it ends).
type windowJSON struct {
	Window  int     `json:"window"`
	StartS  float64 `json:"start_s"`
	LengthS float64 `json:"length_s"`
	Rate    float64 `json:"rate"`
	tallyJSON
	Kinds map[string]tallyJSON `json:"kinds"`
}

// MarshalJSON writes the window for machines; these field names are kept stable.
func (w LoadWindow) MarshalJSON() ([]byte, error) {
	return json.Marshal(windowJSON{w.Index, round(w.Start.Seconds(), 3), round(w.Length.Seconds(), 3), round(w.Rate(), 1),
		w.forJSON(), kindsJSON(w.Kinds)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (w *LoadWindow) UnmarshalJSON(b []byte) error {
	var j windowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*w = LoadWindow{Index: j.Window, Start: seconds(j.StartS), Length: seconds(j.LengthS), Kinds: kindsFromJSON(j.Kinds)}
	w.fromJSON(j.tallyJSON)
	return nil
}

// reportJSON is a LoadReport for machines; these field names are kept stable.
type reportJSON struct {
	tallyJSON
	Rate        float64              `json:"rate"`
	DurationS   float64              `json:"duration_s"`
	Resends     int64                `json:"resends"`
	Interrupted bool                 `json:"interrupted"`
	Kinds       map[string]tallyJSON `json:"kinds,omitempty"`
	Windows     []LoadWindow         `json:"windows,omitempty"`
}

// MarshalJSON writes the report for machines.
func (r LoadReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{r.forJSON(), round(r.Rate(), 1), round(r.Elapsed.Seconds(), 3), r.Resends, r.Interrupted,
		kindsJSON(r.Kinds), r.Windows})
}

// UnmarshalJSON reads what MarshalJSON wrote (for a harness that runs `load --json`); Sending
// comes back from the rate.
func (r *LoadReport) UnmarshalJSON(b []byte) error {
	var j reportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = LoadReport{Resends: j.Resends, Elapsed: seconds(j.DurationS), Kinds: kindsFromJSON(j.Kinds), Windows: j.Windows, Interrupted: j.Interrupted}
	r.fromJSON(j.tallyJSON)
	if j.Rate > 0 {
		r.Sending = seconds(float64(r.Sent) / j.Rate)
	}
	return nil
}

func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func fromMillis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func round(x float64, decimals int) float64 {
	scale := math.Pow(10, float64(decimals))
	return math.Round(x*scale) / scale
}

const maxLatency = time.Hour // longer latencies are recorded as an hour

// tally counts requests as they end. Latencies go into an HDR histogram (microseconds): constant
// memory and cheap percentiles however long the run; the run's own to 3 significant digits
// (within 0.1%), a kind's or a window's to 2 (within 1%, a tenth of the memory).
type tally struct {
	sent, answers, dropped int
	byStatus               map[string]int
	latency                *hdrhistogram.Histogram
}

func newTally(digits int) *tally {
	return &tally{byStatus: map[string]int{}, latency: hdrhistogram.New(1, maxLatency.Microseconds(), digits)}
}

func (t *tally) answered(status string, latency time.Duration) {
	t.answers++
	t.byStatus[status]++
	if status == statusInterrupted {
		return // not a latency: the run stopped waiting
	}
	_ = t.latency.RecordValue(min(latency, maxLatency).Microseconds()) // in range by construction
}

func (t *tally) summary() Tally {
	at := func(percentile float64) time.Duration {
		return time.Duration(t.latency.ValueAtQuantile(percentile)) * time.Microsecond
	}
	return Tally{Sent: t.sent, Answered: t.answers, Dropped: t.dropped, ByStatus: maps.Clone(t.byStatus),
		P50: at(50), P90: at(90), P99: at(99), Max: time.Duration(t.latency.Max()) * time.Microsecond}
}

// tallies are the same requests counted whole and by kind.
type tallies struct {
	all   *tally
	kinds map[string]*tally
}

func newTallies(digits int) tallies {
	return tallies{all: newTally(digits), kinds: map[string]*tally{}}
}

func (ts tallies) kind(k string) *tally {
	t := ts.kinds[k]
	if t == nil {
		t = newTally(2)
		ts.kinds[k] = t
	}
	return t
}

func (ts tallies) kindSummaries() map[string]Tally {
	out := make(map[string]Tally, len(ts.kinds))
	for k, t := range ts.kinds {
		out[k] = t.summary()
	}
	return out
}

// window is one window's tallies and how many of its requests are still in flight.
type window struct {
	tallies
	inFlight int
}

// loadStats is a run's tally, shared by the senders and the progress reporter.
type loadStats struct {
	mu         sync.Mutex
	start      time.Time
	sendingEnd time.Time // zero while sending
	lastAnswer time.Time
	run        tallies
	windowLen  time.Duration // 0: no windows
	windows    []*window
	emitted    int // windows handed to completeWindows' caller so far
	resends    func() int64
}

func newLoadStats(resends func() int64, windowLen time.Duration) *loadStats {
	return &loadStats{start: time.Now(), run: newTallies(3), resends: resends, windowLen: windowLen}
}

// windowAt is the window of a request due at offset at from the start (nil without windows):
// a request belongs to the window of its arrival time, however late the sender got to it.
func (s *loadStats) windowAt(at time.Duration) *window {
	if s.windowLen <= 0 {
		return nil
	}
	i := int(at / s.windowLen)
	for len(s.windows) <= i {
		s.windows = append(s.windows, &window{tallies: newTallies(2)})
	}
	return s.windows[i]
}

// sent counts a request of kind due at offset at; the window it belongs to goes to answered.
func (s *loadStats) sent(at time.Duration, kind string) *window {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windowAt(at)
	for _, t := range s.countedIn(w, kind) {
		t.sent++
	}
	if w != nil {
		w.inFlight++
	}
	return w
}

func (s *loadStats) dropped(at time.Duration, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.countedIn(s.windowAt(at), kind) {
		t.dropped++
	}
}

// countedIn is every tally a request of kind in window w counts in.
func (s *loadStats) countedIn(w *window, kind string) []*tally {
	ts := []*tally{s.run.all, s.run.kind(kind)}
	if w != nil {
		ts = append(ts, w.all, w.kind(kind))
	}
	return ts
}

func (s *loadStats) answered(w *window, kind, status string, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAnswer = time.Now()
	for _, t := range s.countedIn(w, kind) {
		t.answered(status, latency)
	}
	if w != nil {
		w.inFlight--
	}
}

func (s *loadStats) sendingEnded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendingEnd = time.Now()
}

// completeWindows are the windows that ended since the last call, in order: a window ends once
// its time is over (or the sending is) and every request sent in it has finished.
func (s *loadStats) completeWindows() []LoadWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []LoadWindow
	for ; s.emitted < len(s.windows); s.emitted++ {
		i := s.emitted
		start := time.Duration(i) * s.windowLen
		end := start + s.windowLen
		if !s.sendingEnd.IsZero() {
			end = min(end, s.sendingEnd.Sub(s.start))
		} else if time.Since(s.start) < end {
			break
		}
		w := s.windows[i]
		if w.inFlight > 0 {
			break
		}
		done = append(done, LoadWindow{Index: i, Start: start, Length: end - start, Tally: w.all.summary(), Kinds: w.kindSummaries()})
	}
	return done
}

// report is the run so far; once every answer is in, the run's report. windows are those
// complete so far.
func (s *loadStats) report(windows []LoadWindow) LoadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	all := s.run.all
	end, sendingEnd := now, s.sendingEnd
	if sendingEnd.IsZero() {
		sendingEnd = now
	} else if all.answers == all.sent { // done: the run ended with its last answer, or with the sending
		end = sendingEnd
		if s.lastAnswer.After(end) {
			end = s.lastAnswer
		}
	}
	return LoadReport{Tally: all.summary(), Kinds: s.run.kindSummaries(), Windows: windows,
		Resends: s.resends(), Elapsed: end.Sub(s.start), Sending: sendingEnd.Sub(s.start)}
}

// every calls f every interval until the returned stop is called.
func every(interval time.Duration, f func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				f()
			}
		}
	}()
	return func() { close(done); <-finished }
}
