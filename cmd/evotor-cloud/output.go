package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
)

// printSteps prints one line a step and a summary line (or JSON); cli.ErrFailed when a step failed.
func printSteps(w io.Writer, name string, asJSON bool, rep cloud.Report) error {
	if asJSON {
		_ = json.NewEncoder(w).Encode(rep)
	} else {
		for _, s := range rep.Steps {
			verdict := "PASS"
			if !s.OK {
				verdict = "FAIL " + s.Problem
			}
			fmt.Fprintf(w, "%-58s %3d %9s  %s\n", s.Name, s.Status, short(s.Duration), verdict)
		}
		verdict := "all passed"
		if !rep.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "%s: %d passed, %d failed, %d re-sends, %s total: %s\n",
			name, rep.Passed, rep.Failed, rep.Resends, short(rep.Duration), verdict)
	}
	if !rep.OK {
		return cli.ErrFailed
	}
	return nil
}

// progress prints a load's progress line: sent and answered so far, the rate of answers since
// the previous line, and p99 so far.
type progress struct {
	w        io.Writer
	previous cloud.LoadReport
}

func (p *progress) print(r cloud.LoadReport) {
	rate := 0.0
	if dt := (r.Elapsed - p.previous.Elapsed).Seconds(); dt > 0 {
		rate = float64(r.Answered-p.previous.Answered) / dt
	}
	line := fmt.Sprintf("%5.1fs  sent %d  answered %d  errors %d  %.0f req/s  p99 %s",
		r.Elapsed.Seconds(), r.Sent, r.Answered, r.Errors(), rate, short(r.P99))
	if r.Dropped > 0 {
		line += fmt.Sprintf("  dropped %d", r.Dropped)
	}
	fmt.Fprintln(p.w, line)
	p.previous = r
}

// printLoadTable is the load's final report for people.
func printLoadTable(w io.Writer, r cloud.LoadReport, askedRate int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Interrupted {
		fmt.Fprintf(tw, "interrupted\tafter %s of sending: a partial report\n", short(r.Sending))
	}
	fmt.Fprintf(tw, "requests\t%d sent, %d answered, %d dropped, in %s\n", r.Sent, r.Answered, r.Dropped, short(r.Elapsed))
	fmt.Fprintf(tw, "rate\t%.1f req/s achieved (asked %d)\n", r.Rate(), askedRate)
	fmt.Fprintf(tw, "statuses\t%s\n", statuses(r.ByStatus))
	fmt.Fprintf(tw, "latency\tp50 %s  p90 %s  p99 %s  max %s\n", short(r.P50), short(r.P90), short(r.P99), short(r.Max))
	fmt.Fprintf(tw, "re-sends\t%d\n", r.Resends)
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors())
	_ = tw.Flush()
}

// statuses is "200: 98, 500: 2", in the order of the keys.
func statuses(byStatus map[string]int) string {
	if len(byStatus) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byStatus)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, byStatus[k]))
	}
	return strings.Join(parts, ", ")
}

// short rounds a duration to three significant digits, for reading (452µs, 4.63ms, 1.29s).
func short(d time.Duration) time.Duration {
	for unit := time.Microsecond; unit < time.Second; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}
