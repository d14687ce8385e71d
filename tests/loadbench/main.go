// Command loadbench measures evotor-partner against the performance goals (`make bench-load`):
// our real server binary and bare baselines (echo + one pgx INSERT on PostgreSQL, echo + GORM
// Create on SQLite), each a child process, under the same closed-loop load (fresh receipts,
// 32 connections) and open-loop load (`evotor-cloud load`); a 10 MB catalogue against the COPY
// floor with the server's peak RSS growth; the validator's Go benchmark. It prints one table of
// figures and one of goals with PASS or FAIL.
//
// PostgreSQL parts run when TEST_DATABASE_URL names a server to create databases in (the
// Makefile target starts a throw-away one with .ci/with-postgres); without it they are "not run".
// `loadbench baseline …` is the baseline server mode the harness starts itself in.
//
// `loadbench -hostile` (`make bench-hostile`) measures instead our server's peak RSS growth per
// shape of hostile body against a bare echo server (`loadbench bare-echo …`, hostile.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

type options struct {
	connections, rounds   int
	warmup, closedFor     time.Duration
	openRate              int
	openDuration          time.Duration
	catalogueMiB, runs    int
	validatorCount        int
	strict, catalogueOnly bool
	sqliteOnly            bool
	hostile               bool
	hostileCopies         int
	databaseURL, keepLogs string
}

// benchUserID is the Evotor user every load plays.
const benchUserID = "01-000000000000001"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		if err := runBaseline(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == bareEchoMode {
		if err := runBareEcho(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.connections, "connections", 32, "closed loop: concurrent connections")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "closed loop: unmeasured warm-up")
	flag.DurationVar(&o.closedFor, "closed", 12*time.Second, "closed loop: measured duration per server")
	flag.IntVar(&o.rounds, "rounds", 4, "closed loop: turns the measured duration is split into, baseline and ours alternating")
	flag.IntVar(&o.openRate, "rate", 1000, "open loop: requests per second")
	flag.DurationVar(&o.openDuration, "open", 20*time.Second, "open loop: duration")
	flag.IntVar(&o.catalogueMiB, "catalogue-mib", 10, "catalogue body size in MiB")
	flag.IntVar(&o.runs, "catalogue-runs", 5, "timings of each catalogue case (median kept)")
	flag.IntVar(&o.validatorCount, "validator-count", 3, "runs of the validator benchmark (median kept)")
	flag.BoolVar(&o.strict, "strict", false, "exit 1 unless every goal is met")
	flag.BoolVar(&o.catalogueOnly, "catalogue-only", false, "run only the catalogue part (PostgreSQL; the other goals are \"not run\")")
	flag.BoolVar(&o.sqliteOnly, "sqlite-only", false, "run only the SQLite closed loop (no validator benchmark, no PostgreSQL, no catalogue)")
	flag.BoolVar(&o.hostile, "hostile", false, "run only the hostile-body measurement (make bench-hostile): peak RSS growth per body shape, ours against a bare echo server, on SQLite")
	flag.IntVar(&o.hostileCopies, "hostile-copies", 8, "hostile bodies: how many large bodies are sent at once in the concurrent rows")
	flag.StringVar(&o.keepLogs, "logs", "", "keep the servers' logs in this directory (default: a temporary one, removed)")
	flag.Parse()
	if !o.sqliteOnly && !o.hostile {
		o.databaseURL = os.Getenv("TEST_DATABASE_URL")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	allMet, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
	if o.strict && !allMet {
		os.Exit(1)
	}
}

// run measures everything, prints the report, and tells whether every goal was met.
func run(ctx context.Context, o options) (bool, error) {
	dir := o.keepLogs
	if dir == "" {
		tmp, err := os.MkdirTemp("", "loadbench-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return false, errors.New("run from the repository root (go run ./tests/loadbench)")
	}
	progress("building ./cmd/evotor-partner and ./cmd/evotor-cloud")
	bins, err := buildBinaries()
	defer gobuild.Cleanup()
	if err != nil {
		return false, err
	}
	if o.hostile {
		return runHostile(ctx, bins, dir, o)
	}
	loadAtStart := loadAverage()
	r := results{Setting: fmt.Sprintf("%s, %s/%s, %d CPUs, %s; SQLite: WAL, synchronous FULL",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}

	if !o.catalogueOnly {
		if err := benchLoads(ctx, bins, dir, o, &r); err != nil {
			return false, err
		}
	}
	if o.databaseURL != "" {
		progress(fmt.Sprintf("%d MiB catalogue", o.catalogueMiB))
		c, err := benchCatalogue(ctx, postgres{url: o.databaseURL}, bins, dir, catalogueOptions{Bytes: o.catalogueMiB << 20, Runs: o.runs})
		if err != nil {
			return false, err
		}
		r.Catalogue = &c
	}
	r.Setting += fmt.Sprintf("\nLoad average %s at the start, %s at the end (on %d CPUs: other work competing with the measurement shows here)",
		loadAtStart, loadAverage(), runtime.NumCPU())
	printReport(os.Stdout, r, o)
	for _, g := range r.goals(o.openRate, o.openDuration) {
		if g.result != "PASS" {
			return false, nil
		}
	}
	return true, nil
}

// benchLoads: the validator benchmark and the receipt loads on both databases.
func benchLoads(ctx context.Context, bins binaries, dir string, o options, r *results) error {
	if !o.sqliteOnly {
		progress("validator benchmark")
		v, err := validatorBenchmark(ctx, o.validatorCount)
		if err != nil {
			return err
		}
		r.Validator = &v
	}
	if o.databaseURL != "" {
		pg := postgres{url: o.databaseURL}
		setting, err := pg.settings(ctx)
		if err != nil {
			return err
		}
		r.Setting += "; " + setting
		progress("warming PostgreSQL's WAL (recycled segments, as on a server that has run a while)")
		if warmed, err := pg.warmWAL(ctx); err != nil {
			r.Setting += "; WAL not warmed (" + err.Error() + "): new WAL segments are zero-filled during the runs"
		} else {
			r.Setting += "; " + warmed
		}
		if r.PGClosed, r.PGOpen, err = benchPostgres(ctx, pg, bins, dir, o); err != nil {
			return err
		}
	} else {
		progress("TEST_DATABASE_URL unset: the PostgreSQL runs are skipped (make bench-load starts one)")
	}
	var err error
	r.SQLiteClosed, err = benchSQLite(ctx, bins, dir, o)
	return err
}

// benchPostgres: the closed loop against the baseline and our server in turns, then the open
// loop against each; each server on a database of its own.
func benchPostgres(ctx context.Context, pg postgres, bins binaries, dir string, o options) (closed, open *pair, err error) {
	baselineURL, err := pg.freshDatabase(ctx, "bench_baseline")
	if err != nil {
		return nil, nil, err
	}
	oursURL, err := pg.freshDatabase(ctx, "bench_partner")
	if err != nil {
		return nil, nil, err
	}
	base, err := startBaseline(ctx, "baseline-postgres", dir, bins.self, baselineURL)
	if err != nil {
		return nil, nil, err
	}
	defer base.stop()
	ours, err := startPartner(ctx, "partner-postgres", dir, bins.partner, oursURL)
	if err != nil {
		return nil, nil, err
	}
	defer ours.stop()
	if closed, err = compareClosedLoop(ctx, "PostgreSQL", base, ours, o); err != nil {
		return nil, nil, err
	}
	open = &pair{}
	openOptions := openLoopOptions{Rate: o.openRate, Duration: o.openDuration}
	progress("PostgreSQL baseline, open loop")
	if open.Baseline, err = openLoop(ctx, bins.cloud, base.URL, "baseline", openOptions, base.cpuTime); err != nil {
		return nil, nil, err
	}
	progress("PostgreSQL evotor-partner, open loop")
	if open.Ours, err = openLoop(ctx, bins.cloud, ours.URL, ours.appToken, openOptions, ours.cpuTime); err != nil {
		return nil, nil, err
	}
	return closed, open, nil
}

// benchSQLite: the closed loop against the GORM baseline and our server, each on its own file.
func benchSQLite(ctx context.Context, bins binaries, dir string, o options) (*pair, error) {
	base, err := startBaseline(ctx, "baseline-sqlite", dir, bins.self, "")
	if err != nil {
		return nil, err
	}
	defer base.stop()
	ours, err := startPartner(ctx, "partner-sqlite", dir, bins.partner, "")
	if err != nil {
		return nil, err
	}
	defer ours.stop()
	return compareClosedLoop(ctx, "SQLite", base, ours, o)
}

// compareClosedLoop runs the closed loop against the baseline and our server in turns.
func compareClosedLoop(ctx context.Context, database string, base *process, ours *partner, o options) (*pair, error) {
	t, err := ours.receiptTarget(benchUserID)
	if err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("%s closed loop: baseline and evotor-partner in %d turns each", database, o.rounds))
	rs, err := closedLoop(ctx, closedLoopOptions{Connections: o.connections, Warmup: o.warmup, Duration: o.closedFor, Rounds: o.rounds},
		loadTarget{baselineTarget(base), base.cpuTime}, loadTarget{t, ours.cpuTime})
	if err != nil {
		return nil, err
	}
	return &pair{Baseline: rs[0], Ours: rs[1]}, nil
}

func baselineTarget(p *process) target {
	return target{URL: p.URL, Auth: "Bearer " + baselineUserToken, UserID: benchUserID}
}

// loadAverage is the machine's 1-minute load average: other work competing with the
// measurement shows here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// progress tells the person waiting what runs now (stderr; the report goes to stdout).
func progress(msg string) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), msg)
}
