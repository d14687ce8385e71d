package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

const appToken = "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Cleanup()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// binary is the real evotor-cloud (tests/gobuild builds it once); the tests that run it are
// process-level, skipped under -short.
func binary(t testing.TB) string { return gobuild.ForTest(t, "evotor-cloud") }

// evotorCloud runs the binary to its end.
func evotorCloud(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("evotor-cloud %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// partner is the real partner API on SQLite; it counts the requests it gets (all, and
// receipts), and holds each receipt for delay before answering (unless the client leaves).
type partner struct {
	*httptest.Server
	requests, receipts atomic.Int64
}

func newPartner(t *testing.T, delay time.Duration) *partner {
	st, err := storage.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, _ := sealer.New(make([]byte, sealer.SecretKeySize))
	api, err := impl.NewAPI(impl.APIConfig{Store: st, Sealer: sealer, App: security.AppCredentials{Tokens: []string{appToken}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p := &partner{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.URL.Path == "/api/v2/receipts" {
			p.receipts.Add(1)
			body, _ := io.ReadAll(r.Body) // read first: only then does net/http notice a client leaving
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(delay):
			case <-r.Context().Done(): // the simulator gave up
				return
			}
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *partner) flags() []string { return []string{"--target", p.URL, "--app-token", appToken} }

func TestHelpExitsZeroAndListsCommands(t *testing.T) {
	p := newPartner(t, 0)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := evotorCloud(t, args...)
		if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "usage: evotor-cloud <command>") {
			t.Errorf("%v: exit %d\nstdout:%s\nstderr:%s", args, r.code, r.stdout, r.stderr)
		}
		for _, name := range []string{"lifecycle", "replay", "load", "--version"} {
			if !strings.Contains(r.stdout, name) {
				t.Errorf("%v does not list %s:\n%s", args, name, r.stdout)
			}
		}
	}
	// --help with everything else in place still starts nothing.
	if r := evotorCloud(t, append([]string{"lifecycle", "--help"}, p.flags()...)...); r.code != 0 || p.requests.Load() != 0 {
		t.Errorf("lifecycle --help with a target: exit %d, %d requests sent", r.code, p.requests.Load())
	}
}

func TestEachCommandsHelpShowsItsOwnFlags(t *testing.T) {
	cases := []struct {
		command      string
		own, foreign []string
	}{
		{"lifecycle", []string{"--login", "--password"}, []string{"--rate", "--op", "--quiet", "--user-token"}},
		{"replay", []string{"--op", "--store", "--user-token"}, []string{"--rate", "--login", "--quiet"}},
		{"load", []string{"--rate", "--duration", "--mix", "--quiet", "--users", "--stores", "--seed", "--window", "--answers", "--history", "--history-drain"}, []string{"--login", "--op", "--store"}},
	}
	for _, c := range cases {
		for _, args := range [][]string{{c.command, "--help"}, {c.command, "-h"}, {"help", c.command}, {c.command, "help"}} {
			r := evotorCloud(t, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "usage: evotor-cloud "+c.command) {
				t.Errorf("%v: exit %d\nstdout:%s\nstderr:%s", args, r.code, r.stdout, r.stderr)
				continue
			}
			for _, flag := range append([]string{"--target", "--app-token", "--json"}, c.own...) {
				if !strings.Contains(r.stdout, flag+" ") {
					t.Errorf("%v does not show %s:\n%s", args, flag, r.stdout)
				}
			}
			for _, flag := range c.foreign {
				if strings.Contains(r.stdout, flag+" ") {
					t.Errorf("%v shows another command's %s:\n%s", args, flag, r.stdout)
				}
			}
		}
	}
}

func TestBadCommandLinesExitTwoWithUsage(t *testing.T) {
	p := newPartner(t, 0)
	cases := []struct {
		args    []string
		problem string
	}{
		{nil, "which command?"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"--version", "extra"}, `unexpected argument "extra"`},
		{append([]string{"load", "--bogus"}, p.flags()...), "unknown flag --bogus"},
		{append([]string{"load", "--rate", "many"}, p.flags()...), `invalid value "many"`},
		{append([]string{"lifecycle", "extra"}, p.flags()...), `unexpected argument "extra"`},
		{append(p.flags(), "lifecycle"), `unknown flag --target`}, // flags belong after the command
		{append([]string{"load"}, append(p.flags(), "extra")...), `unexpected argument "extra"`},
		{append([]string{"replay"}, p.flags()...), "missing DIR|FILE…"},
		{[]string{"lifecycle", "--target", p.URL}, "--app-token"},
		{append([]string{"load", "--mix", "everything"}, p.flags()...), `mix "everything"`},
	}
	for _, c := range cases {
		r := evotorCloud(t, c.args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, c.problem) || !strings.Contains(r.stderr, "usage: evotor-cloud") {
			t.Errorf("%v: exit %d\nstdout:%s\nstderr:%s", c.args, r.code, r.stdout, r.stderr)
		}
	}
	if r := evotorCloud(t, "bogus"); !strings.Contains(r.stderr, "lifecycle") || !strings.Contains(r.stderr, "load") {
		t.Errorf("an unknown command does not list the commands:\n%s", r.stderr)
	}
	if n := p.requests.Load(); n != 0 {
		t.Errorf("bad command lines sent %d requests", n)
	}
}

func TestVersion(t *testing.T) {
	r := evotorCloud(t, "--version")
	if r.code != 0 || !regexp.MustCompile(`^evotor-cloud \S+ \(revision [^)]+\) go1\.\d+`).MatchString(r.stdout) {
		t.Fatalf("--version: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestLifecycleAndReplaySummaries(t *testing.T) {
	p := newPartner(t, 0)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }))
	defer broken.Close()

	r := evotorCloud(t, append([]string{"lifecycle"}, p.flags()...)...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^lifecycle: 13 passed, 0 failed, 0 re-sends, \S+ total: all passed$`).MatchString(r.stdout) {
		t.Fatalf("lifecycle, healthy server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = evotorCloud(t, "lifecycle", "--target", broken.URL, "--app-token", appToken, "--retries", "1", "--retry-interval", "1ms", "--json")
	var rep struct {
		OK             bool
		Passed, Failed int
		Resends        int64
		DurationNs     int64
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 1 || err != nil || rep.OK || rep.Failed != 13 || rep.Passed != 0 ||
		rep.Resends != 13 || rep.DurationNs <= 0 {
		t.Fatalf("lifecycle, broken server: exit %d, JSON %s (%v)", r.code, r.stdout, err)
	}

	file := filepath.Join(t.TempDir(), "user.json")
	if err := os.WriteFile(file, []byte(`{"userId":"01-000000000000009"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// flags after the file are still flags
	r = evotorCloud(t, append([]string{"replay", file, "--op", "createUser"}, p.flags()...)...)
	if r.code != 0 || !regexp.MustCompile(`(?m)^replay: 1 passed, 0 failed, 0 re-sends, \S+ total: all passed$`).MatchString(r.stdout) {
		t.Fatalf("replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// loadReport is the JSON `load --json` prints.
type loadReport struct {
	Requests, Answered, Dropped, Errors int
	Statuses                            map[string]int
	Rate                                float64
	DurationS                           float64 `json:"duration_s"`
	P50                                 float64 `json:"p50_ms"`
	P90                                 float64 `json:"p90_ms"`
	P99                                 float64 `json:"p99_ms"`
	Max                                 float64 `json:"max_ms"`
	Resends                             int64
	Interrupted                         bool
}

func parseLoadReport(t *testing.T, out string) loadReport {
	t.Helper()
	var rep loadReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("load --json: %v\n%s", err, out)
	}
	return rep
}

func progressLines(stderr string) []string {
	var lines []string
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, "req/s") {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestLoadShowsProgressAndReports(t *testing.T) {
	t.Run("table", func(t *testing.T) {
		t.Parallel()
		p := newPartner(t, 0)
		r := evotorCloud(t, append([]string{"load", "--rate", "50", "--duration", "2s"}, p.flags()...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		progress := progressLines(r.stderr)
		if len(progress) < 1 || !regexp.MustCompile(`sent \d+ +answered \d+ +errors 0 +\d+ req/s +p99 \S+`).MatchString(progress[0]) {
			t.Errorf("progress on stderr:\n%s", r.stderr)
		}
		for _, row := range []string{`requests +100 sent, 100 answered, 0 dropped, in \S+`, `rate +\d+\.\d req/s achieved \(asked 50\)`,
			`statuses +200: 100`, `latency +p50 \S+ +p90 \S+ +p99 \S+ +max \S+`, `re-sends +0`, `errors +0`} {
			if !regexp.MustCompile(`(?m)^` + row + `$`).MatchString(r.stdout) {
				t.Errorf("the table has no %q:\n%s", row, r.stdout)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		p := newPartner(t, 0)
		r := evotorCloud(t, append([]string{"load", "--rate", "50", "--duration", "2s", "--json", "--quiet"}, p.flags()...)...)
		rep := parseLoadReport(t, r.stdout)
		if r.code != 0 || rep.Requests != 100 || int64(rep.Requests) != p.receipts.Load() || rep.Answered != 100 || rep.Statuses["200"] != 100 ||
			rep.Errors != 0 || rep.Dropped != 0 || rep.Interrupted || rep.Rate < 45 || rep.Rate > 55 || rep.DurationS < 2 ||
			rep.P50 <= 0 || rep.P50 > rep.P90 || rep.P90 > rep.P99 || rep.P99 > rep.Max {
			t.Errorf("exit %d, %d receipts received, report %+v\n%s", r.code, p.receipts.Load(), rep, r.stdout)
		}
		if lines := progressLines(r.stderr); len(lines) > 0 {
			t.Errorf("--quiet still shows progress: %q", lines)
		}
	})
}

// TestLoadInterrupted: Ctrl-C stops the sending, the answers in flight still arrive within the
// grace (2 s), and the partial report is printed before exit 130.
func TestLoadInterrupted(t *testing.T) {
	cases := []struct {
		name   string
		delay  time.Duration // how long the partner holds each receipt
		asJSON bool
		check  func(t *testing.T, sent int, out string)
	}{
		{"table", 300 * time.Millisecond, false, func(t *testing.T, sent int, out string) {
			want := fmt.Sprintf(`(?m)^requests +%d sent, %d answered, 0 dropped`, sent, sent)
			if !strings.Contains(out, "a partial report") || !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("want %q in the partial report:\n%s", want, out)
			}
		}},
		{"json", 300 * time.Millisecond, true, func(t *testing.T, sent int, out string) {
			rep := parseLoadReport(t, out)
			if !rep.Interrupted || rep.Requests < 40 || rep.Requests != sent || rep.Answered != sent || rep.Statuses["200"] != sent || rep.Resends != 0 {
				t.Errorf("%d receipts received, report %+v", sent, rep)
			}
		}},
		{"no answer in the grace", time.Hour, true, func(t *testing.T, sent int, out string) {
			rep := parseLoadReport(t, out)
			if !rep.Interrupted || rep.Requests != sent || rep.Answered != sent || rep.Statuses["interrupted"] != sent || rep.Resends != 0 || rep.Max != 0 {
				t.Errorf("%d receipts received, report %+v", sent, rep)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := newPartner(t, c.delay)
			args := append([]string{"load", "--rate", "50", "--duration", "60s"}, p.flags()...)
			if c.asJSON {
				args = append(args, "--json")
			}
			start := time.Now()
			code, stdout := interruptAfterProgress(t, args)
			if code != 130 || time.Since(start) > 15*time.Second {
				t.Fatalf("exit %d after %s\n%s", code, time.Since(start), stdout)
			}
			c.check(t, int(p.receipts.Load()), stdout)
		})
	}
}

// interruptAfterProgress runs the binary, sends SIGINT after its first progress line, and
// returns its exit code and stdout.
func interruptAfterProgress(t *testing.T, args []string) (int, string) {
	cmd, stdout, lines := startReadingStderr(t, args...)
	for lines.Scan() && !strings.Contains(lines.Text(), "req/s") {
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	_ = cmd.Wait()
	return cmd.ProcessState.ExitCode(), stdout.String()
}

// startReadingStderr starts the binary with its stdout kept and its stderr read line by line;
// the process is killed when the test ends.
func startReadingStderr(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder, *bufio.Scanner) {
	cmd := exec.Command(binary(t), args...)
	stdout := &strings.Builder{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdout, bufio.NewScanner(stderr)
}

// TestEvotorMixIsAcceptedWindowedAndLogged: the evotor mix against the real API (in process,
// SQLite): every delivery, the setup's and the history's included, is answered 200; the history
// is all sent and answered before AfterHistory and the timed run, and is not in the report; the
// windows come in order as they end and add up to the run; the kinds add up to the run; each
// delivery is told once.
func TestEvotorMixIsAcceptedWindowedAndLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test (a second at 200 requests/s): skipped under -short")
	}
	p := newPartner(t, 0)
	c, err := cloud.New(cloud.Config{Target: p.URL, AppAuth: "Bearer " + appToken})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var windows []cloud.LoadWindow
	answered := map[string]int{} // kind → deliveries told
	const history, window = 150, 500 * time.Millisecond
	historyAnswered := -1 // the history's answers told when AfterHistory ran
	rep, err := c.Load(context.Background(), cloud.LoadOptions{Rate: 200, Duration: time.Second, Mix: "evotor",
		UserID: "01-000000000000101", Users: 2, Stores: 2, Catalogues: cloud.DefaultCatalogues, LargeStore: 2000, Seed: 7, Window: window,
		History: history,
		AfterHistory: func(_ context.Context, took time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if took <= 0 || len(answered) != 2 { // setup and history only
				t.Errorf("after the history (%s): answers %v", took, answered)
			}
			historyAnswered = answered["history"]
			return nil
		},
		OnWindow: func(w cloud.LoadWindow) { windows = append(windows, w) },
		OnAnswer: func(a cloud.Answered) {
			mu.Lock()
			defer mu.Unlock()
			if a.Status != "200" {
				t.Errorf("%s (%s): %s", a.Kind, a.Operation, a.Status)
			}
			answered[a.Kind]++
		}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 200 || rep.Errors() != 0 || rep.Dropped != 0 || len(rep.Windows) != 2 || len(windows) != 2 {
		t.Fatalf("report %+v, %d windows told", rep, len(windows))
	}
	if historyAnswered != history || answered["history"] != history {
		t.Errorf("history: %d answered before AfterHistory, %d in all; want %d", historyAnswered, answered["history"], history)
	}
	sent, kinds := 0, 0
	for i, w := range windows {
		if w.Index != i || w.Start != time.Duration(i)*window || w.Length != window || w.P99 <= 0 || w.P99 > w.Max {
			t.Errorf("window %d: %+v", i, w)
		}
		sent += w.Sent
	}
	for kind, k := range rep.Kinds {
		kinds += k.Sent
		if answered[kind] != k.Sent {
			t.Errorf("%s: %d sent, %d told", kind, k.Sent, answered[kind])
		}
	}
	if sent != rep.Sent || kinds != rep.Sent || rep.Kinds["receipt"].Sent < 100 || answered["setup"] < 2*(5+2) {
		t.Errorf("windows add up to %d, kinds to %d, of %d sent; kinds %v; setup %d", sent, kinds, rep.Sent, rep.Kinds, answered["setup"])
	}
}

// TestLoadWindowsAndAnswersFile: `load --window --json` prints a JSON line per window as it
// ends, then the report with its windows and kinds; --answers logs every finished delivery.
func TestLoadWindowsAndAnswersFile(t *testing.T) {
	p := newPartner(t, 0)
	answers := filepath.Join(t.TempDir(), "answers.tsv")
	r := evotorCloud(t, append([]string{"load", "--mix", "evotor", "--rate", "50", "--duration", "2s", "--window", "1s",
		"--users", "2", "--stores", "1", "--large-store", "2000", "--json", "--quiet", "--answers", answers}, p.flags()...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("exit %d, %d lines\n%s%s", r.code, len(lines), r.stdout, r.stderr)
	}
	for i, line := range lines[:2] {
		var w struct {
			Window   *int
			Requests int
			Rate     float64
			Kinds    map[string]json.RawMessage
		}
		if err := json.Unmarshal([]byte(line), &w); err != nil || w.Window == nil || *w.Window != i || w.Requests != 50 || w.Rate != 50 || len(w.Kinds) == 0 {
			t.Errorf("window line %d: %s (%v)", i, line, err)
		}
	}
	var rep struct {
		Requests int
		Windows  []json.RawMessage
		Kinds    map[string]struct{ Requests int }
	}
	if err := json.Unmarshal([]byte(lines[2]), &rep); err != nil || rep.Requests != 100 || len(rep.Windows) != 2 || rep.Kinds["receipt"].Requests == 0 {
		t.Fatalf("report: %s (%v)", lines[2], err)
	}
	b, err := os.ReadFile(answers)
	if err != nil {
		t.Fatal(err)
	}
	logged := 0
	for line := range strings.Lines(string(b)) {
		if f := strings.Split(strings.TrimSpace(line), "\t"); len(f) != 4 || f[0] != "200" || len(f[3]) != 64 {
			t.Fatalf("answers line %q", line)
		}
		logged++
	}
	// the run's 100, and each user's setup: subscription, installation, user/token, three lists,
	// and its one store's 2,000 products in one request
	if want := 100 + 2*(3+3+1); logged != want {
		t.Errorf("%d answers logged, want %d", logged, want)
	}
}
