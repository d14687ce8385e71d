package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// target is a server that takes receipts: ours (with a user token) or a baseline.
type target struct {
	URL    string
	Auth   string // the Authorization header sent with every receipt
	UserID string // the userId written into the receipts
}

// loadResult is what one load run measured.
type loadResult struct {
	OK       int            // answers 200
	Statuses map[string]int // every request by how it ended: "200", "500", …, "error" (no answer), "dropped" (open loop)
	Rate     float64        // answers 200 per second of the run
	P50, P99 time.Duration
	CPU      time.Duration // server CPU (user + system) per answered request; 0: not measured
}

// Failed counts the requests that did not end in 200.
func (r loadResult) Failed() int {
	n := 0
	for status, count := range r.Statuses {
		if status != statusOK {
			n += count
		}
	}
	return n
}

// closedLoopOptions: connections senders per server, each posting a new receipt as soon as
// the previous one is answered; Duration is each server's measured time, in Rounds turns.
type closedLoopOptions struct {
	Connections      int
	Warmup, Duration time.Duration
	Rounds           int
}

// cpuClock reads a server's CPU time so far; nil when it cannot be read (in-process servers).
type cpuClock func() (time.Duration, error)

// loadTarget is a server under the closed loop, and how to read its CPU time.
type loadTarget struct {
	target
	cpu cpuClock
}

// closedLoop warms each server up, then measures them in turns (Rounds rounds of
// Duration/Rounds each), so that a change in the machine's other load falls on all of them
// alike: throughput, latency percentiles and, with a cpu clock, CPU per request. Each turn
// ends when every request in flight is answered and counted, and only then is the CPU read
// again, so requests and CPU match.
func closedLoop(ctx context.Context, o closedLoopOptions, servers ...loadTarget) ([]loadResult, error) {
	o.Rounds = max(o.Rounds, 1)
	runs := make([]*closedRun, len(servers))
	for i, s := range servers {
		runs[i] = &closedRun{loadTarget: s, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: o.Connections, MaxConnsPerHost: o.Connections, DisableCompression: true}}}
		defer runs[i].client.CloseIdleConnections()
		if o.Warmup > 0 {
			runSenders(ctx, runs[i].client, s.target, o.Connections, o.Warmup)
		}
	}
	for range o.Rounds {
		for _, r := range runs {
			if err := r.turn(ctx, o.Connections, o.Duration/time.Duration(o.Rounds)); err != nil {
				return nil, err
			}
		}
	}
	results := make([]loadResult, len(runs))
	for i, r := range runs {
		results[i] = r.result()
	}
	return results, ctx.Err()
}

// closedRun accumulates one server's turns.
type closedRun struct {
	loadTarget
	client  *http.Client
	tallies []*tally
	elapsed time.Duration
	cpuUsed time.Duration
}

func (r *closedRun) turn(ctx context.Context, connections int, d time.Duration) error {
	var cpuBefore time.Duration
	if r.cpu != nil {
		var err error
		if cpuBefore, err = r.cpu(); err != nil {
			return err
		}
	}
	start := time.Now()
	r.tallies = append(r.tallies, runSenders(ctx, r.client, r.target, connections, d)...)
	r.elapsed += time.Since(start)
	if r.cpu != nil {
		cpuAfter, err := r.cpu()
		if err != nil {
			return err
		}
		r.cpuUsed += cpuAfter - cpuBefore
	}
	return nil
}

func (r *closedRun) result() loadResult {
	res := summarise(r.tallies, r.elapsed)
	if answered := res.OK + res.Failed(); answered > 0 && r.cpu != nil {
		res.CPU = r.cpuUsed / time.Duration(answered)
	}
	return res
}

// tally is one sender's count; merged once the run is over, so senders never share a lock.
type tally struct {
	statuses map[string]int
	latency  *hdrhistogram.Histogram
}

func newTally() *tally {
	return &tally{statuses: map[string]int{}, latency: hdrhistogram.New(1, time.Minute.Microseconds(), 3)}
}

// runSenders runs n senders for d and returns their tallies once each has its last answer.
func runSenders(ctx context.Context, client *http.Client, t target, n int, d time.Duration) []*tally {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tallies := make([]*tally, n)
	var wg sync.WaitGroup
	for i := range tallies {
		tallies[i] = newTally()
		wg.Go(func() {
			for ctx.Err() == nil {
				status, latency := postReceipt(client, t)
				tallies[i].statuses[status]++
				_ = tallies[i].latency.RecordValue(min(latency, time.Minute).Microseconds())
			}
		})
	}
	wg.Wait()
	return tallies
}

const statusOK = "200"

// postReceipt sends one new receipt and reads the whole answer: its status, or "error". The
// request is not tied to the run's deadline: a request sent is always answered and counted.
func postReceipt(client *http.Client, t target) (status string, latency time.Duration) {
	req, err := http.NewRequest(http.MethodPost, t.URL+"/api/v2/receipts", bytes.NewReader(receipt(t.UserID)))
	if err != nil {
		return "error", 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", t.Auth)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return "error", time.Since(start)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return "error", time.Since(start)
	}
	return strconv.Itoa(resp.StatusCode), time.Since(start)
}

func summarise(tallies []*tally, elapsed time.Duration) loadResult {
	all := newTally()
	for _, t := range tallies {
		for status, n := range t.statuses {
			all.statuses[status] += n
		}
		all.latency.Merge(t.latency)
	}
	ok := all.statuses[statusOK]
	return loadResult{OK: ok, Statuses: all.statuses, Rate: float64(ok) / elapsed.Seconds(),
		P50: time.Duration(all.latency.ValueAtQuantile(50)) * time.Microsecond,
		P99: time.Duration(all.latency.ValueAtQuantile(99)) * time.Microsecond}
}
