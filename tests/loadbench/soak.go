package main

// The soak (`loadbench soak`, `make soak`, issue 19 §2): the evotor mix (`evotor-cloud load
// --mix evotor`: receipts, small and large product batches over several users and stores,
// documents, inventory lists, subscription and installation events, re-sends and duplicates in
// Evotor's proportions) at a fixed open-loop rate for a set time, against our real server on
// SQLite and on PostgreSQL with forwarding on to a receiver in this process. Every minute, and
// at the end, a table: the rate achieved, latency per minute and per kind of request, answers
// not 200, forwarding's lag (the oldest pending message, from the server's metrics), the
// server's resident memory and CPU, the database's size per 1,000 deliveries; a plot of p99
// and RSS over time (SVG, hand-written); and the goals, each PASS or FAIL, checked by the run.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

// soakMode is the first argument that makes this program the soak: `loadbench soak [flags]`.
const soakMode = "soak"

// The soak is a mode of this program like `baseline`, in files of its own: it takes the
// program over here, before main reads the benchmark's flags.
func init() {
	if len(os.Args) > 1 && os.Args[1] == soakMode {
		os.Exit(soakMain(os.Args[2:]))
	}
}

// soakOptions: what a soak runs.
type soakOptions struct {
	rate             int
	duration, window time.Duration
	users, stores    int
	catalogues       int // in 1,000 requests
	history          int // requests of the mix sent before the timed run (evotor-cloud load --history)
	seed             uint64
	databases        []string // soakSQLite, soakPostgres
	databaseURL      string   // where PostgreSQL's database is made (TEST_DATABASE_URL)
	postgresLog      string   // that server's own log, kept beside the report (TEST_POSTGRES_LOG; "": none)
	out              string   // the report, the plot, the raw figures, the logs; the SQLite data is removed after its run
	strict           bool
}

// soakHistory is how many requests of the mix the database holds before the timed run, by
// default: the first minute is then timed against a database with a past, as a partner's
// is, not one fresh enough to fit in every cache.
const soakHistory = 60_000

const (
	soakSQLite   = "sqlite"
	soakPostgres = "postgres"
)

// The soak's goals (issue 19 §2).
const (
	soakGoalP99       = 50 * time.Millisecond // every window's p99, the whole mix
	soakGoalP99Growth = 2.0                   // no window's p99 above this many times the first's
	soakGoalRSSBand   = 64 << 20              // RSS after the first window: highest − lowest sample
	soakGoalLag       = 5 * time.Second       // forwarding's oldest pending message, at every scrape
	soakGoalRate      = 0.99                  // the load itself: every window's arrivals, of the rate asked
	// Every window's p99 of the catalogues (200–2,000 products, 2 in 1,000 requests): a tenth
	// of the 10 s after which Evotor sends again. Under 1 in 100, they do not count in the
	// mix's p99, so they are held to a goal of their own.
	soakGoalCatalogueP99 = time.Second
)

func soakMain(args []string) int {
	fs := flag.NewFlagSet("loadbench soak", flag.ContinueOnError)
	var o soakOptions
	var databases string
	fs.IntVar(&o.rate, "rate", 200, "requests per second (open loop)")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long each database is soaked")
	fs.DurationVar(&o.window, "window", time.Minute, "the report's row: figures per window of this length")
	fs.IntVar(&o.users, "users", 5, "Evotor users")
	fs.IntVar(&o.stores, "stores", 4, "stores per user")
	fs.IntVar(&o.catalogues, "catalogues", cloud.DefaultCatalogues, "catalogues (200–2,000 products) in 1,000 requests (evotor-cloud load --catalogues)")
	fs.IntVar(&o.history, "history", soakHistory, "requests of the mix sent before the timed run, as fast as the server answers: the database's past (evotor-cloud load --history; 0: none)")
	fs.Uint64Var(&o.seed, "seed", 0, "the mix's random choices (0: a new seed each run)")
	fs.StringVar(&databases, "db", "", "databases, comma-separated: sqlite,postgres (default: both with TEST_DATABASE_URL set, else sqlite)")
	fs.StringVar(&o.out, "out", "", "directory for the report, its plot (SVG), the raw figures (JSON), the servers' logs and the load's answers (default: a new one under $TMPDIR)")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 unless every goal is met")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.databaseURL = os.Getenv("TEST_DATABASE_URL")
	o.postgresLog = os.Getenv("TEST_POSTGRES_LOG")
	var err error
	if o.databases, err = soakDatabases(databases, o.databaseURL); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench soak:", err)
		return 2
	}
	if o.out == "" {
		o.out = filepath.Join(os.TempDir(), "evotor-soak-"+time.Now().UTC().Format("20060102-150405"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	met, err := runSoak(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench soak:", err)
		return 1
	}
	if o.strict && !met {
		return 1
	}
	return 0
}

// soakDatabases reads -db; PostgreSQL needs TEST_DATABASE_URL.
func soakDatabases(list, databaseURL string) ([]string, error) {
	if list == "" {
		if databaseURL == "" {
			progress("TEST_DATABASE_URL unset: the soak runs on SQLite only (make soak starts a PostgreSQL)")
			return []string{soakSQLite}, nil
		}
		return []string{soakSQLite, soakPostgres}, nil
	}
	dbs := strings.Split(list, ",")
	for _, db := range dbs {
		if db != soakSQLite && db != soakPostgres {
			return nil, fmt.Errorf("-db %q: want sqlite, postgres or both", db)
		}
	}
	if slices.Contains(dbs, soakPostgres) && databaseURL == "" {
		return nil, errors.New("-db postgres needs TEST_DATABASE_URL (make soak starts a PostgreSQL)")
	}
	return dbs, nil
}

// runSoak soaks each database in turn, writes the report, its plot and the raw figures into
// o.out, prints the report, and tells whether every goal was met.
func runSoak(ctx context.Context, o soakOptions) (bool, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return false, errors.New("run from the repository root (go run ./tests/loadbench soak)")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return false, err
	}
	progress("building ./cmd/evotor-partner and ./cmd/evotor-cloud")
	bins, err := buildBinaries()
	defer gobuild.Cleanup()
	if err != nil {
		return false, err
	}
	report := soakReport{Options: o, Start: time.Now(), LoadAtStart: loadAverage(),
		Setting: fmt.Sprintf("%s/%s, %d CPUs, %s; %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), sourceRevision())}
	for _, db := range o.databases {
		res, err := soakDatabase(ctx, bins, o.out, o, db)
		if err != nil {
			return false, fmt.Errorf("%s: %w", db, err)
		}
		report.Runs = append(report.Runs, res)
		if err := writeJSONFile(filepath.Join(o.out, db+".json"), res); err != nil {
			return false, err
		}
	}
	report.End, report.LoadAtEnd = time.Now(), loadAverage()
	return report.write(o.out)
}

// sourceRevision is the commit the binaries were built from, and whether the tree differed.
func sourceRevision() string {
	out, err := gitOutput("rev-parse", "--short", "HEAD")
	if err != nil {
		return "revision unknown"
	}
	rev := "revision " + out
	if status, err := gitOutput("status", "--porcelain", "--untracked-files=no", "--", "cmd", "impl", "security", "generated", "openapi"); err == nil && status != "" {
		rev += " with uncommitted changes to the server"
	}
	return rev
}
