package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"strconv"
	"time"
)

// openLoopOptions: the arrival rate and how long to keep it.
type openLoopOptions struct {
	Rate     int
	Duration time.Duration
}

// cloudLoadReport is the part of `evotor-cloud load --json` the harness reads.
type cloudLoadReport struct {
	Requests int            `json:"requests"`
	Answered int            `json:"answered"`
	Dropped  int            `json:"dropped"`
	Statuses map[string]int `json:"statuses"`
	Rate     float64        `json:"rate"`
	P50      float64        `json:"p50_ms"`
	P99      float64        `json:"p99_ms"`
}

// openLoop runs the real simulator, `evotor-cloud load --mix receipts`, against a server at a
// fixed arrival rate. No re-sends (--retries 0): every answer counts as it came. The server's
// CPU is read around the run.
func openLoop(ctx context.Context, cloudBin, url, appToken string, o openLoopOptions, cpu cpuClock) (loadResult, error) {
	cmd := exec.CommandContext(ctx, cloudBin, "load", "--target", url, "--app-token", appToken,
		"--rate", strconv.Itoa(o.Rate), "--duration", o.Duration.String(), "--mix", "receipts",
		"--retries", "0", "--quiet", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Each run pays only for its own writes: what the previous runs left dirty in the page cache
	// is written out now, not by the kernel's 30-second writeback in the middle of this run
	// (such a burst holds every commit's fsync for 50–200 ms here).
	syncDisks()
	cpuBefore, err := cpu()
	if err != nil {
		return loadResult{}, err
	}
	runErr := cmd.Run()
	cpuAfter, err := cpu()
	if err != nil {
		return loadResult{}, err
	}
	var exitErr *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exitErr) && exitErr.ExitCode() == 1) { // 1: some answer was not 200
		return loadResult{}, fmt.Errorf("evotor-cloud load: %w: %s", runErr, stderr.Bytes())
	}
	var rep cloudLoadReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return loadResult{}, fmt.Errorf("evotor-cloud load: %w: %s %s", err, stdout.Bytes(), stderr.Bytes())
	}
	return rep.result(cpuAfter - cpuBefore), nil
}

// result is the report in the harness's terms: statuses as the simulator counts them
// ("error", "interrupted"), plus the arrivals it dropped.
func (r cloudLoadReport) result(cpu time.Duration) loadResult {
	res := loadResult{Statuses: maps.Clone(r.Statuses), Rate: r.Rate, OK: r.Statuses[statusOK],
		P50: time.Duration(r.P50 * float64(time.Millisecond)), P99: time.Duration(r.P99 * float64(time.Millisecond))}
	if res.Statuses == nil {
		res.Statuses = map[string]int{}
	}
	if r.Dropped > 0 {
		res.Statuses["dropped"] += r.Dropped
	}
	if r.Answered > 0 {
		res.CPU = cpu / time.Duration(r.Answered)
	}
	return res
}
