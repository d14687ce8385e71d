package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

// soakReport is a whole soak: every database's run, and where and when it ran.
type soakReport struct {
	Options                soakOptions
	Start, End             time.Time
	LoadAtStart, LoadAtEnd string
	Setting                string
	Runs                   []*soakResult
}

// write prints the report, writes it (report.md) and its plot (soak.svg) into out, and tells
// whether every goal was met.
func (r soakReport) write(out string) (bool, error) {
	var b bytes.Buffer
	met := r.print(&b)
	report, plot := filepath.Join(out, "report.md"), filepath.Join(out, "soak.svg")
	fmt.Fprintf(&b, "\nPlot of p99, RSS and others' work on the machine over time: %s\n", plot)
	if err := os.WriteFile(report, b.Bytes(), 0o644); err != nil {
		return false, err
	}
	if err := os.WriteFile(plot, soakPlot(r), 0o644); err != nil {
		return false, err
	}
	_, _ = os.Stdout.Write(b.Bytes())
	fmt.Printf("Report: %s (the figures behind it: %s)\n", report, filepath.Join(out, "<database>.json"))
	return met, nil
}

// print writes the setting, each database's tables and the goals (Markdown); true when every
// goal was met.
func (r soakReport) print(w io.Writer) bool {
	o := r.Options
	fmt.Fprintf(w, "%s–%s, %s\n", r.Start.UTC().Format("2006-01-02 15:04"), r.End.UTC().Format("15:04 MST"), r.Setting)
	fmt.Fprintf(w, "evotor mix (`evotor-cloud load --mix evotor`) at %d/s for %s per database, %d users × %d stores, %d catalogues in 1,000 requests, "+
		"windows of %s; forwarding on, to a receiver in the harness\n", o.rate, shortDuration(o.duration), o.users, o.stores, o.catalogues, shortDuration(o.window))
	fmt.Fprintf(w, "Load average %s at the start, %s at the end (on %d CPUs)\n", r.LoadAtStart, r.LoadAtEnd, runtime.NumCPU())
	var goals [][]string
	met := 0
	for _, res := range r.Runs {
		fmt.Fprintf(w, "\n#### %s\n%s\n", res.Database, res.Setting)
		if o.history > 0 {
			fmt.Fprintf(w, "Before the timed run: the setup and %d requests of the mix (%s); the database then: %s.\n",
				o.history, res.History, mebibytes(res.DBStart))
		}
		fmt.Fprintln(w)
		writeTable(w, res.windowRows())
		fmt.Fprintln(w)
		writeTable(w, res.kindWindowRows())
		fmt.Fprintln(w)
		writeTable(w, res.kindRows())
		fmt.Fprintf(w, "\nForwarding drained %.1f s after the load ended. %s.\n", res.Drain.Seconds(), res.Ledger)
		if res.LoadExit != "" {
			fmt.Fprintf(w, "evotor-cloud load ended with %s: some answer was not 200 (see the tables).\n", res.LoadExit)
		}
		for _, g := range res.goals(o) {
			goals = append(goals, []string{res.Database, g.name, g.measured, g.want, g.result})
			if g.result == "PASS" {
				met++
			}
		}
	}
	fmt.Fprintln(w, "\n#### Goals")
	writeTable(w, append([][]string{{"database", "goal", "measured", "wanted", "result"}}, goals...))
	fmt.Fprintf(w, "\n%d of %d goals met.\n", met, len(goals))
	return met == len(goals)
}

// clock is an offset as m:ss.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func windowLabel(w cloud.LoadWindow) string { return clock(w.Start) + "–" + clock(w.Start+w.Length) }

// notOKs lists what did not end in 200 ("0", or "3 × 503, 1 × dropped").
func notOKs(t cloud.Tally) string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(t.ByStatus)) {
		if status != statusOK {
			parts = append(parts, fmt.Sprintf("%d × %s", t.ByStatus[status], status))
		}
	}
	if t.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d × dropped", t.Dropped))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

func bytesPer1000(grown int64, deliveries int) string {
	if deliveries <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f KiB", float64(grown)/float64(deliveries)*1000/(1<<10))
}

// soakWindowLine is a window in one line, for the progress as the soak goes.
func soakWindowLine(w soakWindow, dbStart int64) string {
	l := w.Load
	return fmt.Sprintf("%s: %.1f req/s, p50 %s, p99 %s, max %s, not 200: %s, forwarding lag ≤ %.1f s, RSS %s, DB %s (%s per 1,000 deliveries), machine CPU %.0f%% busy (others' work %.0f%%), %.0f%% waiting for the disk, CPU probe %.1f ms",
		windowLabel(l), l.Rate(), millis(l.P50), millis(l.P99), millis(l.Max), notOKs(l.Tally), w.LagMax,
		mebibytes(w.RSSEnd), mebibytes(w.DBSize), bytesPer1000(w.DBSize-dbStart, w.Acknowledged), 100*w.MachineBusy, 100*w.Others, 100*w.IOWait,
		w.Probe.Seconds()*1000)
}

// cpuSpeed is how fast cpuProbe ran against the first window ("0.80": its computation took
// a quarter more CPU time); "–" without probes.
func cpuSpeed(probe, first time.Duration) string {
	if probe <= 0 || first <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", first.Seconds()/probe.Seconds())
}

// windowRows: one row per window, what the load measured and what the server did meanwhile.
func (res *soakResult) windowRows() [][]string {
	rows := [][]string{{"window", "req/s", "p50", "p99", "max", "not 200", "forwarding lag (max)", "pending (end)",
		"RSS (end)", "RSS (max)", "Go heap (end)", "goroutines", "server CPU", "DB size", "DB per 1,000 deliveries", "machine CPU busy", "of it others' work", "machine CPU waiting for disk", "CPU speed (first window = 1)"}}
	for _, w := range res.Windows {
		l := w.Load
		rows = append(rows, []string{windowLabel(l), fmt.Sprintf("%.1f", l.Rate()), millis(l.P50), millis(l.P99),
			millis(l.Max), notOKs(l.Tally), fmt.Sprintf("%.1f s", w.LagMax), fmt.Sprintf("%.0f", w.PendingEnd),
			mebibytes(w.RSSEnd), mebibytes(w.RSSMax), mebibytes(int64(w.HeapEnd)), fmt.Sprintf("%.0f", w.RoutinesEnd), fmt.Sprintf("%.0f%%", 100*w.CPU.Seconds()/l.Length.Seconds()),
			mebibytes(w.DBSize), bytesPer1000(w.DBSize-res.DBStart, w.Acknowledged), fmt.Sprintf("%.0f%%", 100*w.MachineBusy), fmt.Sprintf("%.0f%%", 100*w.Others), fmt.Sprintf("%.0f%%", 100*w.IOWait),
			cpuSpeed(w.Probe, res.Windows[0].Probe)})
	}
	return rows
}

// soakKinds are the kinds of the evotor mix in the order of its proportions; any other after.
var soakKinds = []string{"receipt", "products", "catalogue", "documents", "stores", "devices", "employees",
	"subscription", "installation", "re-send", "duplicate"}

func (res *soakResult) kinds() []string {
	var ks []string
	for _, k := range soakKinds {
		if _, ok := res.Report.Kinds[k]; ok {
			ks = append(ks, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(res.Report.Kinds)) {
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// kindWindowRows: p99 per kind of request and window, so that a kind's growth shows.
func (res *soakResult) kindWindowRows() [][]string {
	kinds := res.kinds()
	rows := [][]string{append([]string{"p99 by kind"}, kinds...)}
	for _, w := range res.Windows {
		row := []string{windowLabel(w.Load)}
		for _, k := range kinds {
			cell := "–"
			if t, ok := w.Load.Kinds[k]; ok && t.Answered > 0 {
				cell = millis(t.P99)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// kindRows: each kind of request over the whole run.
func (res *soakResult) kindRows() [][]string {
	rows := [][]string{{"kind", "requests", "share", "p50", "p99", "max", "not 200"}}
	total := res.Report.Sent + res.Report.Dropped
	for _, k := range res.kinds() {
		t := res.Report.Kinds[k]
		rows = append(rows, []string{k, fmt.Sprintf("%d", t.Sent+t.Dropped), fmt.Sprintf("%.1f%%", 100*float64(t.Sent+t.Dropped)/float64(max(total, 1))),
			millis(t.P50), millis(t.P99), millis(t.Max), notOKs(t)})
	}
	t := res.Report.Tally
	rows = append(rows, []string{"all", fmt.Sprintf("%d", total), "100%", millis(t.P50), millis(t.P99), millis(t.Max), notOKs(t)})
	return rows
}

// windowUnit names a window of d: "minute", "20s window", "2m window".
func windowUnit(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return shortDuration(d) + " window"
}

// shortDuration is d as Go writes it, without a trailing "0s" ("10m", "1m30s", "20s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// goals checks the run against the soak's goals.
func (res *soakResult) goals(o soakOptions) []goal {
	unit := windowUnit(o.window)
	ws := make([]cloud.LoadWindow, len(res.Windows))
	for i, w := range res.Windows {
		ws[i] = w.Load
	}
	if len(ws) == 0 {
		return []goal{{"every " + unit, "no window completed", "", "FAIL"}}
	}
	var gs []goal
	worst := 0
	for i, w := range ws {
		if w.P99 > ws[worst].P99 {
			worst = i
		}
	}
	gs = append(gs, goal{fmt.Sprintf("p99 of every %s (the whole mix at %d/s)", unit, o.rate),
		fmt.Sprintf("%s at most (%s)", millis(ws[worst].P99), windowLabel(ws[worst])), "≤ " + millis(soakGoalP99),
		verdict(ws[worst].P99 <= soakGoalP99)})

	gs = append(gs, catalogueGoal(unit, res.Windows))

	growth, at := 1.0, 0
	for i, w := range ws[1:] {
		if g := float64(w.P99) / float64(max(ws[0].P99, time.Microsecond)); g > growth {
			growth, at = g, i+1
		}
	}
	gs = append(gs, goal{fmt.Sprintf("no %s's p99 above twice the first's (%s)", unit, millis(ws[0].P99)),
		fmt.Sprintf("%.2f× at most (%s)", growth, windowLabel(ws[at])), fmt.Sprintf("≤ %.0f×", soakGoalP99Growth),
		verdict(growth <= soakGoalP99Growth)})

	warm := ws[0].Start + ws[0].Length
	var low, high float64
	n := 0
	for _, s := range res.RSS {
		if s.At < warm || s.At > ws[len(ws)-1].Start+ws[len(ws)-1].Length {
			continue
		}
		if n == 0 || s.Value < low {
			low = s.Value
		}
		high = max(high, s.Value)
		n++
	}
	rss := goal{"server RSS after the first " + unit + ": highest − lowest (sampled every second)", "no sample", "≤ " + mebibytes(soakGoalRSSBand), notRun}
	if n > 0 {
		rss.measured = fmt.Sprintf("%s (%s–%s)", mebibytes(int64(high-low)), mebibytes(int64(low)), mebibytes(int64(high)))
		rss.result = verdict(high-low <= soakGoalRSSBand)
	}
	gs = append(gs, rss)

	lag := 0.0
	for _, s := range res.Lag {
		lag = max(lag, s.Value)
	}
	gs = append(gs, goal{"forwarding lag: the oldest pending message (metrics, every 2 s)",
		fmt.Sprintf("%.1f s at most (drained %.1f s after the load)", lag, res.Drain.Seconds()), fmt.Sprintf("≤ %.0f s", soakGoalLag.Seconds()),
		verdict(len(res.Lag) > 0 && lag <= soakGoalLag.Seconds())})

	gs = append(gs, goal{"nothing lost: every acknowledged delivery stored once and forwarded", res.Ledger.String(), "0 lost, 0 twice",
		verdict(res.Ledger.ok())})

	lowRate, dropped := ws[0].Rate(), 0
	for _, w := range ws {
		lowRate = min(lowRate, w.Rate())
		dropped += w.Dropped
	}
	gs = append(gs, goal{"the load itself: every " + unit + "'s arrival rate, arrivals dropped",
		fmt.Sprintf("%.1f/s at least, %d dropped", lowRate, dropped), fmt.Sprintf("≥ %g/s, 0 dropped", soakGoalRate*float64(o.rate)),
		verdict(lowRate >= soakGoalRate*float64(o.rate) && dropped == 0)})
	return gs
}

// catalogueGoal: every window's p99 of the catalogues (not run when none was sent).
func catalogueGoal(unit string, windows []soakWindow) goal {
	g := goal{fmt.Sprintf("p99 of every %s's catalogues (200–2,000 products)", unit), "none sent", "≤ " + millis(soakGoalCatalogueP99), notRun}
	var worst *cloud.LoadWindow
	for i := range windows {
		w := &windows[i].Load
		if t, ok := w.Kinds["catalogue"]; ok && t.Answered > 0 && (worst == nil || t.P99 > worst.Kinds["catalogue"].P99) {
			worst = w
		}
	}
	if worst != nil {
		p99 := worst.Kinds["catalogue"].P99
		g.measured = fmt.Sprintf("%s at most (%s)", millis(p99), windowLabel(*worst))
		g.result = verdict(p99 <= soakGoalCatalogueP99)
	}
	return g
}

// writeJSONFile writes v as indented JSON.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// gitOutput runs git with args and returns its output, trimmed.
func gitOutput(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	return strings.TrimSpace(string(out)), err
}
