package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/security/webhook"
)

// soakResult is one database's soak: every window's figures, the samples behind them, and
// what the receiver got against what was acknowledged.
type soakResult struct {
	Database string
	Setting  string           // the database's own settings
	Windows  []soakWindow     // in order
	Report   cloud.LoadReport // the load's own report, whole run
	RSS      []soakSample     // the server's VmRSS, bytes, every second
	Lag      []soakSample     // forwarding's oldest pending message, seconds, every 2 s
	Pending  []soakSample     // forwarding's pending messages, every 2 s
	Heap     []soakSample     // the server's Go heap in use (go_memstats_heap_inuse_bytes), every 2 s
	Routines []soakSample     // the server's goroutines, every 2 s
	DBStart  int64            // the database's size when the timed load started (after the setup and the history), within a second
	Drain    time.Duration    // from the load's end until nothing was pending
	Ledger   soakLedger
	LoadExit string // how `evotor-cloud load` ended when not 0 ("exit status 1": some answer was not 200)
	History  string // how the history went, as the load told it ("sent in 43.1 s, forwarded 12.3 s later")
}

// soakSample is a figure At from the load's start.
type soakSample struct {
	At    time.Duration
	Value float64
}

// soakWindow is a window of the load and what the server did meanwhile.
type soakWindow struct {
	Load           cloud.LoadWindow
	RSSEnd, RSSMax int64   // at the window's end, and its highest sample
	LagMax         float64 // seconds, the highest scrape in the window
	PendingEnd     float64
	HeapEnd        float64       // the Go heap in use at the window's end, bytes
	RoutinesEnd    float64       // goroutines at the window's end
	CPU            time.Duration // the server's CPU time in the window
	DBSize         int64         // at the window's end
	Acknowledged   int           // deliveries answered 200 so far
	MachineBusy    float64       // the machine's CPUs, busy share (everything on it: the load, the harness, PostgreSQL, others' work)
	Others         float64       // of the machine's CPUs, the share busy with work not the soak's (the machine's other users)
	IOWait         float64       // of the machine's CPUs, the share idle waiting for the disk (anyone's writes, ours too)
	Probe          time.Duration // the median CPU time of cpuProbe in the window: the CPUs' speed (lower is faster)
}

// soakRun is one database's soak as it goes.
type soakRun struct {
	o          soakOptions
	res        *soakResult
	server     *partner
	metricsURL string
	size       func(context.Context) (int64, error)
	upkeep     func(context.Context) (string, error) // between the history and the timed run: what months of autovacuum and checkpoints would have done

	mu        sync.Mutex
	loadStart time.Time    // zero until the load's first progress line
	cpu       []soakSample // the server's CPU time, ns
	machine   []soakSample // the machine's busy CPU time, jiffies
	machineT  []soakSample // the machine's CPU time, busy or not, jiffies
	iowait    []soakSample // the machine's CPU time idle waiting for the disk, jiffies
	probes    []soakSample // cpuProbe's CPU time, ns, every 5 s
	ours      []soakSample // the soak's CPU time, ns: the server, the load, this harness, the PostgreSQL it runs on
	loadPID   int          // the load's process, once started
	postgres  int          // the PostgreSQL server's postmaster (0: SQLite)
}

// soakDatabase runs the soak on one database: a fresh database, a receiver, our server
// forwarding to it, `evotor-cloud load --mix evotor` for the duration; then waits for
// forwarding to drain and checks that nothing acknowledged was lost.
func soakDatabase(ctx context.Context, bins binaries, dir string, o soakOptions, db string) (*soakResult, error) {
	run := &soakRun{o: o, res: &soakResult{Database: map[string]string{soakSQLite: "SQLite", soakPostgres: "PostgreSQL"}[db]}}
	name := "soak-" + db
	databaseURL := ""
	if db == soakPostgres {
		pg := postgres{url: o.databaseURL}
		setting, err := pg.settings(ctx)
		if err != nil {
			return nil, err
		}
		// As bench-load does (postgres.go): a cluster fresh from initdb zero-fills a new WAL
		// segment every 16 MB, stalls a server past its first checkpoints never has.
		if warmed, err := pg.warmWAL(ctx); err != nil {
			setting += "; WAL not warmed (" + err.Error() + ")"
		} else {
			setting += "; " + warmed
		}
		run.res.Setting = setting
		if databaseURL, err = pg.freshDatabase(ctx, "soak_partner"); err != nil {
			return nil, err
		}
		run.size = postgresSize(databaseURL)
		run.upkeep = postgresUpkeep(databaseURL)
		run.postgres = postmasterOf(databaseURL)
		defer keepPostgresLog(o.postgresLog, dir)
	} else {
		run.res.Setting = "SQLite: WAL, synchronous FULL; size: the data directory's files (database, WAL, shared memory)"
		dataDir := filepath.Join(dir, name+"-data") // startPartner's
		defer os.RemoveAll(dataDir)                 // gigabytes after a full soak; the logs stay
		run.size = func(context.Context) (int64, error) { return directorySize(dataDir) }
	}

	receiver, err := startSoakReceiver()
	if err != nil {
		return nil, err
	}
	defer receiver.close()
	progress(fmt.Sprintf("%s: starting evotor-partner, forwarding to %s", run.res.Database, receiver.url))
	run.server, err = withEnv(map[string]string{
		"EVOTOR_PARTNER_FORWARD_URL":    receiver.url,
		"EVOTOR_PARTNER_FORWARD_SECRET": receiver.secret,
	}, func() (*partner, error) { return startPartner(ctx, name, dir, bins.partner, databaseURL) })
	if err != nil {
		return nil, err
	}
	defer run.server.stop()
	if run.metricsURL, err = metricsURLFromLog(run.server.logPath); err != nil {
		return nil, err
	}

	stopSampling := run.sample()
	answers := filepath.Join(dir, name+"-answers.tsv")
	loadErr := run.load(ctx, bins.cloud, answers)
	stopSampling()
	if loadErr != nil {
		return nil, loadErr
	}
	progress(fmt.Sprintf("%s: load done; waiting for forwarding to drain", run.res.Database))
	if err := run.drain(ctx); err != nil {
		return nil, err
	}
	m, err := cloud.ScrapeMetrics(ctx, run.metricsURL)
	if err != nil {
		return nil, err
	}
	run.res.Ledger, err = checkLedger(answers, receiver, m)
	return run.res, err
}

// load runs `evotor-cloud load --mix evotor` and takes in each window as it ends.
func (r *soakRun) load(ctx context.Context, cloudBin, answers string) error {
	o := r.o
	args := []string{"load", "--target", r.server.URL, "--app-token", r.server.appToken, "--mix", "evotor",
		"--rate", strconv.Itoa(o.rate), "--duration", o.duration.String(), "--window", o.window.String(),
		"--users", strconv.Itoa(o.users), "--stores", strconv.Itoa(o.stores),
		"--catalogues", strconv.Itoa(o.catalogues), "--history", strconv.Itoa(o.history), "--seed", strconv.FormatUint(o.seed, 10),
		"--answers", answers, "--json"}
	if o.history > 0 { // the timed run starts once the server has forwarded its past, and the database has caught up with it
		args = append(args, "--history-drain", r.metricsURL, "--history-wait")
	}
	cmd := exec.CommandContext(ctx, cloudBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	defer stdin.Close()
	// Each run pays only for its own writes (as openLoop does): what came before is written out
	// now, not by the kernel's writeback in the middle of this run.
	syncDisks()
	progress(fmt.Sprintf("%s: evotor-cloud load --mix evotor, %d/s for %s", r.res.Database, o.rate, o.duration))
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if cmd.ProcessState == nil { // returned before waiting for it: a report it did not finish
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	r.mu.Lock()
	r.loadPID = cmd.Process.Pid
	r.mu.Unlock()
	var stderrTail bytes.Buffer
	stderrDone := make(chan struct{})
	go func() { defer close(stderrDone); r.readProgress(ctx, stderr, stdin, &stderrTail) }()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var final []byte
	for lines.Scan() {
		line := lines.Bytes()
		var probe struct {
			Window *int `json:"window"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return fmt.Errorf("evotor-cloud load: %w: %s", err, line)
		}
		if probe.Window == nil {
			final = bytes.Clone(line)
			continue
		}
		var w cloud.LoadWindow
		if err := json.Unmarshal(line, &w); err != nil {
			return err
		}
		r.window(ctx, w)
	}
	<-stderrDone
	runErr := cmd.Wait()
	var exitErr *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exitErr) && exitErr.ExitCode() == 1) { // 1: some answer was not 200
		return fmt.Errorf("evotor-cloud load: %w: %s", runErr, stderrTail.Bytes())
	}
	if runErr != nil {
		r.res.LoadExit = runErr.Error()
	}
	if err := json.Unmarshal(final, &r.res.Report); err != nil {
		return fmt.Errorf("evotor-cloud load's report: %w: %s %s", err, final, stderrTail.Bytes())
	}
	return nil
}

var progressLine = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)s\s+sent `)

// readProgress reads the load's progress lines: the first one tells when the load started
// (after its setup), which places the server's samples in the load's windows. The history's
// line (--history-wait) is answered on stdin once the database's upkeep is done. Other lines
// (errors) are kept for a message.
func (r *soakRun) readProgress(ctx context.Context, stderr io.Reader, stdin io.Writer, tail *bytes.Buffer) {
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if history, ok := strings.CutPrefix(lines.Text(), "history: "); ok {
			history, _, _ = strings.Cut(history, "; waiting")
			if r.upkeep != nil {
				done, err := r.upkeep(ctx)
				if err != nil {
					done = "upkeep failed: " + err.Error()
				}
				history += "; then " + done
			}
			progress(fmt.Sprintf("%s: %d requests of history %s", r.res.Database, r.o.history, history))
			r.mu.Lock()
			r.res.History = history
			r.mu.Unlock()
			_, _ = io.WriteString(stdin, "\n")
			continue
		}
		m := progressLine.FindStringSubmatch(lines.Text())
		if m == nil {
			tail.WriteString(lines.Text() + "\n")
			continue
		}
		r.mu.Lock()
		if r.loadStart.IsZero() {
			elapsed, _ := strconv.ParseFloat(m[1], 64)
			r.loadStart = time.Now().Add(-time.Duration(elapsed * float64(time.Second)))
		}
		r.mu.Unlock()
	}
}

// since is t as an offset from the load's start (0 before it is known).
func (r *soakRun) since(t time.Time) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loadStart.IsZero() {
		return 0, false
	}
	return t.Sub(r.loadStart), true
}

// sample reads the server's RSS and CPU every second and forwarding's lag every 2 s until stopped.
func (r *soakRun) sample() (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for tick := 0; ; tick++ {
			select {
			case <-done:
				return
			case <-ticker.C:
			}
			at, ok := r.since(time.Now())
			if !ok {
				continue
			}
			if r.res.DBStart == 0 { // the first second of the timed load: its setup and history are written
				if size, err := r.size(context.Background()); err == nil {
					r.mu.Lock()
					r.res.DBStart = size
					r.mu.Unlock()
				}
			}
			rss, _, errRSS := r.server.memory()
			cpu, errCPU := r.server.cpuTime()
			busy, iowait, total, errMachine := machineCPU()
			ours := r.oursCPU()
			var probe time.Duration
			errProbe := errors.New("not this tick")
			if tick%5 == 0 {
				probe, errProbe = cpuProbe()
			}
			var m cloud.Metrics
			var errMetrics error
			if tick%2 == 0 {
				m, errMetrics = cloud.ScrapeMetrics(context.Background(), r.metricsURL)
			}
			r.mu.Lock()
			if errRSS == nil {
				r.res.RSS = append(r.res.RSS, soakSample{at, float64(rss)})
			}
			if errCPU == nil {
				r.cpu = append(r.cpu, soakSample{at, float64(cpu)})
			}
			if errMachine == nil {
				r.machine = append(r.machine, soakSample{at, busy})
				r.machineT = append(r.machineT, soakSample{at, total})
				r.iowait = append(r.iowait, soakSample{at, iowait})
				r.ours = append(r.ours, soakSample{at, float64(ours)})
			}
			if errProbe == nil {
				r.probes = append(r.probes, soakSample{at, float64(probe)})
			}
			if tick%2 == 0 && errMetrics == nil {
				r.res.Lag = append(r.res.Lag, soakSample{at, m.Max("evotor_partner_forward_oldest_pending_age_seconds")})
				r.res.Pending = append(r.res.Pending, soakSample{at, m.Sum(cloud.ForwardPending, nil)})
				r.res.Heap = append(r.res.Heap, soakSample{at, m.Sum("go_memstats_heap_inuse_bytes", nil)})
				r.res.Routines = append(r.res.Routines, soakSample{at, m.Sum("go_goroutines", nil)})
			}
			r.mu.Unlock()
		}
	}()
	return func() { close(done); <-finished }
}

// window takes in a window of the load as it ends: the server's samples in it, the database's
// size now, and one line of progress.
func (r *soakRun) window(ctx context.Context, w cloud.LoadWindow) {
	size, err := r.size(ctx)
	if err != nil {
		progress("database size: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	from, to := w.Start, w.Start+w.Length
	in := func(s soakSample) bool { return s.At >= from && s.At <= to }
	sw := soakWindow{Load: w, DBSize: size}
	for _, s := range r.res.RSS {
		if in(s) {
			sw.RSSMax = max(sw.RSSMax, int64(s.Value))
			sw.RSSEnd = int64(s.Value)
		}
	}
	for i, s := range r.res.Lag {
		if in(s) {
			sw.LagMax = max(sw.LagMax, s.Value)
			sw.PendingEnd = r.res.Pending[i].Value
			sw.HeapEnd, sw.RoutinesEnd = r.res.Heap[i].Value, r.res.Routines[i].Value
		}
	}
	if first, last, ok := sampleSpan(r.cpu, from, to); ok {
		sw.CPU = time.Duration(last.Value - first.Value)
	}
	first, last, ok := sampleSpan(r.machine, from, to)
	firstT, lastT, okT := sampleSpan(r.machineT, from, to)
	firstOurs, lastOurs, okOurs := sampleSpan(r.ours, from, to)
	firstIO, lastIO, okIO := sampleSpan(r.iowait, from, to)
	if ok && okT && okOurs && okIO && lastT.Value > firstT.Value {
		all := lastT.Value - firstT.Value
		sw.MachineBusy = (last.Value - first.Value) / all
		ours := (lastOurs.Value - firstOurs.Value) / float64(clockTick) // in jiffies, as /proc/stat counts
		sw.Others = max(0, (last.Value-first.Value-ours)/all)
		sw.IOWait = (lastIO.Value - firstIO.Value) / all
	}
	var probes []float64
	for _, p := range r.probes {
		if in(p) {
			probes = append(probes, p.Value)
		}
	}
	if len(probes) > 0 {
		slices.Sort(probes)
		sw.Probe = time.Duration(probes[len(probes)/2])
	}
	sw.Acknowledged = w.ByStatus["200"]
	if n := len(r.res.Windows); n > 0 {
		sw.Acknowledged += r.res.Windows[n-1].Acknowledged
	}
	r.res.Windows = append(r.res.Windows, sw)
	progress(fmt.Sprintf("%s %s", r.res.Database, soakWindowLine(sw, r.res.DBStart)))
}

// oursCPU is the CPU time the soak has used so far: the server, the load, this harness and,
// on PostgreSQL, every process of its server (the postmaster and its children).
func (r *soakRun) oursCPU() time.Duration {
	r.mu.Lock()
	pids := []int{r.server.cmd.Process.Pid, os.Getpid(), r.loadPID}
	r.mu.Unlock()
	if r.postgres > 0 {
		pids = append(pids, r.postgres)
		pids = append(pids, childrenOf(r.postgres)...)
	}
	var total time.Duration
	for _, pid := range pids {
		if cpu, err := cpuTimeOf(pid); pid > 0 && err == nil {
			total += cpu
		}
	}
	return total
}

// postmasterOf finds the PostgreSQL server of url on this machine: the process started with
// its port (`postgres … -p PORT`, as .ci/with-postgres starts it); 0 when none is found.
func postmasterOf(databaseURL string) int {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Port() == "" {
		return 0
	}
	port := u.Port()
	for _, pid := range processes() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(string(b), "\x00")
		if i := slices.Index(args, "-p"); err == nil && filepath.Base(args[0]) == "postgres" && i > 0 && i+1 < len(args) && args[i+1] == port {
			return pid
		}
	}
	return 0
}

// childrenOf are the processes whose parent is pid.
func childrenOf(pid int) []int {
	var children []int
	for _, p := range processes() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		end := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
		fields := strings.Fields(string(b[end+1:]))
		if end > 0 && len(fields) > 1 && fields[1] == strconv.Itoa(pid) { // state, then the parent
			children = append(children, p)
		}
	}
	return children
}

// processes are the machine's process ids.
func processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineCPU reads the machine's CPU time from /proc/stat, in jiffies: busy (not idle, not
// waiting for the disk), waiting for the disk, and total.
func machineCPU() (busy, iowait, total float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, 0, 0, errors.New("unexpected /proc/stat")
	}
	for i, f := range fields[1:min(len(fields), 9)] { // guest time (after steal) is in user time already
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, 0, 0, err
		}
		total += v
		switch i {
		case 3: // idle
		case 4:
			iowait += v
		default:
			busy += v
		}
	}
	return busy, iowait, total, nil
}

// sampleSpan is the first and last sample within [from, to].
func sampleSpan(samples []soakSample, from, to time.Duration) (first, last soakSample, ok bool) {
	for _, s := range samples {
		if s.At < from || s.At > to {
			continue
		}
		if !ok {
			first, ok = s, true
		}
		last = s
	}
	return first, last, ok
}

// drain waits until forwarding has nothing pending (at most two minutes).
func (r *soakRun) drain(ctx context.Context) error {
	waited, drained, err := cloud.WaitForwarded(ctx, r.metricsURL, 2*time.Minute)
	r.res.Drain = waited
	if err == nil && !drained {
		progress("forwarding still has messages pending after two minutes")
	}
	return err
}

// withEnv runs f (which starts a child process: it inherits this environment) with env set,
// then puts the environment back.
func withEnv[T any](env map[string]string, f func() (T, error)) (T, error) {
	for name, value := range env {
		old, had := os.LookupEnv(name)
		_ = os.Setenv(name, value)
		defer func() {
			if had {
				_ = os.Setenv(name, old)
			} else {
				_ = os.Unsetenv(name)
			}
		}()
	}
	return f()
}

// metricsURLFromLog finds where the server serves its metrics: its "serving metrics" log line.
func metricsURLFromLog(logPath string) (string, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "", err
	}
	for line := range bytes.Lines(b) {
		var entry struct{ Msg, URL string }
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "serving metrics" && entry.URL != "" {
			return entry.URL, nil
		}
	}
	return "", fmt.Errorf("no \"serving metrics\" line in %s", logPath)
}

// directorySize is the total size of the regular files under dir.
func directorySize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// postgresSize reads pg_database_size of the database at url.
func postgresSize(url string) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var size int64
		err = conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
		return size, err
	}
}

// postgresUpkeep is what a partner's PostgreSQL has done for the months the history stands
// for, done at once: VACUUM (ANALYZE) of the whole database, then a CHECKPOINT. Sent in a
// minute, the history leaves autovacuum and the checkpointer behind, and would hand their
// work to the timed run's first minutes.
func postgresUpkeep(url string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		start := time.Now()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		for _, sql := range []string{"VACUUM (ANALYZE)", "CHECKPOINT"} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return "", fmt.Errorf("%s: %w", sql, err)
			}
		}
		return fmt.Sprintf("VACUUM (ANALYZE) and CHECKPOINT in %.1f s", time.Since(start).Seconds()), nil
	}
}

// soakReceiver is the partner's end of forwarding, in this process: cloud.Receiver (the one
// `evotor-cloud receive` runs: it verifies each signature and hands each webhook-id on once),
// counting each message by the SHA-256 of the body it carries.
type soakReceiver struct {
	url, secret string
	srv         *http.Server

	mu         sync.Mutex
	byBody     map[[32]byte]int // distinct messages per body
	messages   int              // distinct messages (webhook-ids)
	duplicates int              // messages received again (same webhook-id)
	outOfOrder int              // messages whose seq was not above their user's previous one
	undecoded  int
	lastSeq    map[string]int64
}

func startSoakReceiver() (*soakReceiver, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	rcv := &soakReceiver{secret: "whsec_" + base64.StdEncoding.EncodeToString(key), byBody: map[[32]byte]int{}, lastSeq: map[string]int64{}}
	secret, err := webhook.ParseSecret(rcv.secret)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	handler := &cloud.Receiver{Secret: secret, Deliver: rcv.deliver, Duplicate: func(string) {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		rcv.duplicates++
	}}
	rcv.url = "http://" + ln.Addr().String() + "/"
	rcv.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rcv.srv.Serve(ln) }()
	return rcv, nil
}

// deliver counts one message (cloud.Receiver calls it once per webhook-id, one at a time).
func (rcv *soakReceiver) deliver(_ string, body []byte) error {
	var msg struct {
		UserID *string         `json:"userId"`
		Seq    int64           `json:"seq"`
		Body   json.RawMessage `json:"body"`
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rcv.messages++
	if err := json.Unmarshal(body, &msg); err != nil {
		rcv.undecoded++
		return nil
	}
	rcv.byBody[sha256Of(msg.Body)]++
	if msg.UserID != nil {
		if msg.Seq <= rcv.lastSeq[*msg.UserID] {
			rcv.outOfOrder++
		}
		rcv.lastSeq[*msg.UserID] = msg.Seq
	}
	return nil
}

func (rcv *soakReceiver) close() { _ = rcv.srv.Close() }
