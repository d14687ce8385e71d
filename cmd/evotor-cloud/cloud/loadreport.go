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
	Sent     int            // requests sent
	Answered int            // of them, finished: an answer, or given up
	Dropped  int            // arrivals not sent because MaxInFlight were in flight
	ByStatus map[string]int // "200", "500", "error", "interrupted", …
	P50      time.Duration  // latency percentiles of the finished requests, re-sends included, interrupted ones not
	P90      time.Duration
	P99      time.Duration
	Max      time.Duration
	Resends  int64
	Elapsed  time.Duration // from the first send to the last answer (to now, in a snapshot)
	Sending  time.Duration // how long requests were being sent (Duration, unless interrupted)

	Interrupted bool // the run was stopped before its Duration
}

// Errors counts the finished requests that did not end in 200.
func (r LoadReport) Errors() int { return r.Answered - r.ByStatus["200"] }

// Rate is the arrival rate achieved: requests sent per second of sending.
func (r LoadReport) Rate() float64 {
	if r.Sending <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Sending.Seconds()
}

// MarshalJSON writes the report for machines; these field names are kept stable.
func (r LoadReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Requests    int            `json:"requests"`
		Answered    int            `json:"answered"`
		Dropped     int            `json:"dropped"`
		Errors      int            `json:"errors"`
		Statuses    map[string]int `json:"statuses"`
		Rate        float64        `json:"rate"`
		DurationS   float64        `json:"duration_s"`
		P50         float64        `json:"p50_ms"`
		P90         float64        `json:"p90_ms"`
		P99         float64        `json:"p99_ms"`
		Max         float64        `json:"max_ms"`
		Resends     int64          `json:"resends"`
		Interrupted bool           `json:"interrupted"`
	}{r.Sent, r.Answered, r.Dropped, r.Errors(), r.ByStatus, round(r.Rate(), 1), round(r.Elapsed.Seconds(), 3),
		millis(r.P50), millis(r.P90), millis(r.P99), millis(r.Max), r.Resends, r.Interrupted})
}

func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(x float64, decimals int) float64 {
	scale := math.Pow(10, float64(decimals))
	return math.Round(x*scale) / scale
}

// loadStats is a run's tally, shared by the senders and the progress reporter. Latencies go
// into an HDR histogram (microseconds, 3 significant digits): constant memory and cheap
// percentiles however long the run, within 0.1%.
type loadStats struct {
	mu             sync.Mutex
	start          time.Time
	sendingEnd     time.Time // zero while sending
	lastAnswer     time.Time
	sentN, answers int
	droppedN       int
	byStatus       map[string]int
	latency        *hdrhistogram.Histogram
	resends        func() int64
}

const maxLatency = time.Hour // longer latencies are recorded as an hour

func newLoadStats(resends func() int64) *loadStats {
	return &loadStats{start: time.Now(), byStatus: map[string]int{}, resends: resends,
		latency: hdrhistogram.New(1, maxLatency.Microseconds(), 3)}
}

func (s *loadStats) sent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentN++
}

func (s *loadStats) dropped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.droppedN++
}

func (s *loadStats) answered(status string, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers++
	s.byStatus[status]++
	s.lastAnswer = time.Now()
	if status == statusInterrupted {
		return // not a latency: the run stopped waiting
	}
	_ = s.latency.RecordValue(min(latency, maxLatency).Microseconds()) // in range by construction
}

func (s *loadStats) sendingEnded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendingEnd = time.Now()
}

// report is the run so far; once every answer is in, the run's report.
func (s *loadStats) report() LoadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	end, sendingEnd := now, s.sendingEnd
	if sendingEnd.IsZero() {
		sendingEnd = now
	} else if s.answers == s.sentN { // done: the run ended with its last answer, or with the sending
		end = sendingEnd
		if s.lastAnswer.After(end) {
			end = s.lastAnswer
		}
	}
	at := func(percentile float64) time.Duration {
		return time.Duration(s.latency.ValueAtQuantile(percentile)) * time.Microsecond
	}
	return LoadReport{Sent: s.sentN, Answered: s.answers, Dropped: s.droppedN, ByStatus: maps.Clone(s.byStatus),
		P50: at(50), P90: at(90), P99: at(99), Max: time.Duration(s.latency.Max()) * time.Microsecond,
		Resends: s.resends(), Elapsed: end.Sub(s.start), Sending: sendingEnd.Sub(s.start)}
}

// reportEvery calls progress with a report every interval until the returned stop is called.
func (s *loadStats) reportEvery(interval time.Duration, progress func(LoadReport)) (stop func()) {
	if progress == nil {
		return func() {}
	}
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
				progress(s.report())
			}
		}
	}()
	return func() { close(done); <-finished }
}
