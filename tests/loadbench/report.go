package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// pair is one load run against the baseline and against our server.
type pair struct {
	Baseline, Ours loadResult
}

// results is everything one run of the harness measured; nil parts were not run.
type results struct {
	Setting      string // machine, databases, options
	PGClosed     *pair
	PGOpen       *pair
	SQLiteClosed *pair
	Catalogue    *catalogueResult
	Validator    *validatorResult
}

// The goals of the performance issue.
const (
	goalThroughputRatio = 0.60
	goalOpenP99         = 20 * time.Millisecond
	goalCPURatio        = 3.0
	goalValidatorNs     = 40_000
	goalValidatorAllocs = 80
	goalCatalogueNew    = 0.50
	goalCatalogueResent = 1.00
	goalRSSGrowth       = 64 << 20
)

// goal is one row of the verdict: what was measured against what is wanted.
type goal struct {
	name, measured, want, result string
}

func verdict(met bool) string {
	if met {
		return "PASS"
	}
	return "FAIL"
}

const notRun = "not run"

// goals checks every goal the results cover; the others are "not run".
func (r results) goals(openRate int, openDuration time.Duration) []goal {
	var gs []goal
	add := func(name, want string, measured func() (string, bool), ran bool) {
		if !ran {
			gs = append(gs, goal{name, "–", want, notRun})
			return
		}
		m, ok := measured()
		gs = append(gs, goal{name, m, want, verdict(ok)})
	}
	throughput := func(p *pair) func() (string, bool) {
		return func() (string, bool) {
			ratio := p.Ours.Rate / p.Baseline.Rate
			m := percent(ratio)
			if failed := p.Ours.Failed(); failed > 0 {
				m += fmt.Sprintf(" (%d not 200)", failed)
			}
			return m, ratio >= goalThroughputRatio && p.Ours.Failed() == 0
		}
	}
	add("receipts/s on PostgreSQL, ours ÷ echo+pgx baseline (closed loop)", "≥ 60%", throughput(r.PGClosed), r.PGClosed != nil)
	add("receipts/s on SQLite, ours ÷ echo+GORM baseline (closed loop)", "≥ 60%", throughput(r.SQLiteClosed), r.SQLiteClosed != nil)
	open := fmt.Sprintf("open loop %d/s for %s on PostgreSQL, ours: ", openRate, openDuration)
	// The baseline's figure beside ours tells whether the machine itself could keep the rate.
	add(open+"answers not 200", "0", func() (string, bool) {
		n := r.PGOpen.Ours.Failed()
		return fmt.Sprintf("%d (baseline %d)", n, r.PGOpen.Baseline.Failed()), n == 0
	}, r.PGOpen != nil)
	add(open+"p99", "≤ 20 ms", func() (string, bool) {
		return fmt.Sprintf("%s (baseline %s)", millis(r.PGOpen.Ours.P99), millis(r.PGOpen.Baseline.P99)), r.PGOpen.Ours.P99 <= goalOpenP99
	}, r.PGOpen != nil)
	add("server CPU per receipt, ours ÷ baseline (PostgreSQL closed loop)", "≤ 3×", func() (string, bool) {
		ratio := float64(r.PGClosed.Ours.CPU) / float64(r.PGClosed.Baseline.CPU)
		return fmt.Sprintf("%.1f×", ratio), ratio <= goalCPURatio
	}, r.PGClosed != nil && r.PGClosed.Baseline.CPU > 0)
	add("validator time per receipt (go test -bench ValidatorReceipt)", "≤ 40 µs", func() (string, bool) {
		return fmt.Sprintf("%.0f µs", r.Validator.NsPerOp/1000), r.Validator.NsPerOp <= goalValidatorNs
	}, r.Validator != nil)
	add("validator allocations per receipt", "≤ 80", func() (string, bool) {
		return fmt.Sprintf("%.0f", r.Validator.AllocsPerOp), r.Validator.AllocsPerOp <= goalValidatorAllocs
	}, r.Validator != nil)
	c := r.Catalogue
	add("10 MB catalogue into a new store, COPY floor ÷ ours", "≥ 50%", func() (string, bool) {
		ratio := c.Floor.Seconds() / c.New.Seconds()
		return percent(ratio), ratio >= goalCatalogueNew
	}, c != nil)
	add("10 MB catalogue re-sent, COPY floor ÷ ours", "≥ 100%", func() (string, bool) {
		ratio := c.Floor.Seconds() / c.Resent.Seconds()
		return percent(ratio), ratio >= goalCatalogueResent
	}, c != nil)
	add("10 MB catalogue, our server's peak resident memory growth", "≤ 64 MiB", func() (string, bool) {
		return mebibytes(c.RSSGrowth), c.RSSGrowth <= goalRSSGrowth
	}, c != nil)
	return gs
}

// measurements are the raw figures behind the goals.
func (r results) measurements(openRate int, openDuration time.Duration, connections int) [][]string {
	rows := [][]string{{"run", "server", "req/s", "p50", "p99", "not 200", "server CPU µs/req", "ours ÷ baseline"}}
	addPair := func(run string, p *pair, rateRatio bool) {
		if p == nil {
			rows = append(rows, []string{run, notRun, "", "", "", "", "", ""})
			return
		}
		rows = append(rows, loadRow(run, "baseline", p.Baseline, ""))
		ratio := ""
		if rateRatio {
			ratio = percent(p.Ours.Rate / p.Baseline.Rate)
		}
		if p.Baseline.CPU > 0 {
			ratio = strings.TrimPrefix(ratio+fmt.Sprintf(", CPU %.1f×", float64(p.Ours.CPU)/float64(p.Baseline.CPU)), ", ")
		}
		rows = append(rows, loadRow("", "evotor-partner", p.Ours, ratio))
	}
	closed := fmt.Sprintf("closed loop, %d connections", connections)
	addPair("PostgreSQL "+closed, r.PGClosed, true)
	addPair(fmt.Sprintf("PostgreSQL open loop, %d/s for %s", openRate, openDuration), r.PGOpen, false)
	addPair("SQLite "+closed, r.SQLiteClosed, true)
	if c := r.Catalogue; c != nil {
		run := fmt.Sprintf("%s catalogue (%d products), PostgreSQL", mebibytes(int64(c.Bytes)), c.Products)
		rows = append(rows,
			[]string{run, "COPY floor", seconds(c.Floor), "", "", "", "", ""},
			[]string{"", "evotor-partner, new store", seconds(c.New), "", "", "", "", "floor ÷ ours " + percent(c.Floor.Seconds()/c.New.Seconds())},
			[]string{"", "evotor-partner, re-sent", seconds(c.Resent), "", "", "", "", "floor ÷ ours " + percent(c.Floor.Seconds()/c.Resent.Seconds())},
			[]string{"", "evotor-partner, peak RSS growth", mebibytes(c.RSSGrowth), "", "", "", "", ""})
	}
	if v := r.Validator; v != nil {
		rows = append(rows, []string{"validator benchmark (security)", "", fmt.Sprintf("%.1f µs/op", v.NsPerOp/1000), "", "", "", "",
			fmt.Sprintf("%.0f allocs/op", v.AllocsPerOp)})
	}
	return rows
}

func loadRow(run, server string, r loadResult, ratio string) []string {
	cpu := "–"
	if r.CPU > 0 {
		cpu = fmt.Sprintf("%.0f", float64(r.CPU)/float64(time.Microsecond))
	}
	return []string{run, server, fmt.Sprintf("%.0f", r.Rate), millis(r.P50), millis(r.P99), notOK(r), cpu, ratio}
}

// notOK counts the requests that did not end in 200, by how they ended.
func notOK(r loadResult) string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(r.Statuses)) {
		if status != statusOK {
			parts = append(parts, fmt.Sprintf("%d × %s", r.Statuses[status], status))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// printReport writes the setting, the measurements and the goals as Markdown tables.
func printReport(w io.Writer, r results, o options) {
	fmt.Fprintf(w, "%s\n\n", r.Setting)
	writeTable(w, r.measurements(o.openRate, o.openDuration, o.connections))
	fmt.Fprintln(w)
	gs := r.goals(o.openRate, o.openDuration)
	rows := [][]string{{"goal", "measured", "wanted", "result"}}
	met := 0
	for _, g := range gs {
		rows = append(rows, []string{g.name, g.measured, g.want, g.result})
		if g.result == "PASS" {
			met++
		}
	}
	writeTable(w, rows)
	fmt.Fprintf(w, "\n%d of %d goals met.\n", met, len(gs))
}

// writeTable writes rows (the first is the header) as a Markdown table with aligned columns.
func writeTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, cell := range cells {
			b.WriteString("| " + cell + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)) + " ")
		}
		fmt.Fprintln(w, b.String()+"|")
	}
	line(rows[0])
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	line(rule)
	for _, row := range rows[1:] {
		line(row)
	}
}

func percent(ratio float64) string { return fmt.Sprintf("%.0f%%", 100*ratio) }

func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mebibytes(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
