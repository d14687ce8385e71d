package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Cleanup()
	os.Exit(code)
}

// TestSoakShort is `make soak` shortened for CI: the evotor mix at 50/s for a minute on SQLite,
// windows of 20 s, with forwarding to the harness's receiver (about 75 s; skipped under
// -short). Nothing acknowledged may be lost, every answer is 200 at the rate asked, memory and
// forwarding's lag keep to their goals; the latency goals are logged, not held (they depend on
// the machine, and `make soak` judges them at the full rate).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute-long soak of the real binaries: skipped under -short")
	}
	t.Chdir("../..") // runSoak runs from the repository root
	o := soakOptions{rate: 50, duration: time.Minute, window: 20 * time.Second, users: 3, stores: 2, catalogues: 2, seed: 19,
		history: 2000, databases: []string{soakSQLite}, out: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stdout := captureStdout(t)
	if _, err := runSoak(ctx, o); err != nil {
		t.Fatal(err)
	}
	report := stdout()
	t.Log("\n" + report)
	for _, file := range []string{"report.md", "soak.svg", "sqlite.json"} {
		if _, err := os.Stat(filepath.Join(o.out, file)); err != nil {
			t.Error(err)
		}
	}
	for _, line := range strings.Split(report, "\n") {
		if !strings.HasPrefix(line, "| SQLite") {
			continue
		}
		latency := strings.Contains(line, "p99")
		if strings.Contains(line, "| FAIL") && !latency {
			t.Errorf("goal not met: %s", line)
		}
	}
	if !strings.Contains(report, "| 0:40–1:00 |") || strings.Count(report, "| SQLite") != 7 {
		t.Errorf("the report lacks the third window or a goal")
	}
	// the history is sent and forwarded before the timed run (and, by the goal above, none of it lost)
	if !regexp.MustCompile(`the setup and 2000 requests of the mix \(sent in [0-9.]+ s, forwarded [0-9.]+ s later\)`).MatchString(report) {
		t.Errorf("the report does not tell of the history")
	}
}

// captureStdout sends os.Stdout to a pipe until the returned function is called, which gives
// what was written.
func captureStdout(t *testing.T) func() string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { defer close(done); _, _ = io.Copy(&out, r) }()
	restore := func() string {
		if os.Stdout == w {
			os.Stdout = saved
			_ = w.Close()
			<-done
		}
		return out.String()
	}
	t.Cleanup(func() { restore() })
	return restore
}

// testWindow is a soak window of the load from minute i, with p99.
func testWindow(i int, p99 time.Duration, rate float64) soakWindow {
	return soakWindow{Load: cloud.LoadWindow{Index: i, Start: time.Duration(i) * time.Minute, Length: time.Minute,
		Tally: cloud.Tally{Sent: int(rate * 60), Answered: int(rate * 60), ByStatus: map[string]int{"200": int(rate * 60)}, P99: p99, Max: 2 * p99}}}
}

// TestSoakGoalsJudgeEveryWindow: the worst window decides p99 and its growth; RSS counts only
// after the first window; lag, ledger and rate as measured.
func TestSoakGoalsJudgeEveryWindow(t *testing.T) {
	o := soakOptions{rate: 200, duration: 3 * time.Minute, window: time.Minute}
	res := &soakResult{Database: "SQLite",
		Windows: []soakWindow{testWindow(0, 10*time.Millisecond, 200), testWindow(1, 30*time.Millisecond, 200), testWindow(2, 15*time.Millisecond, 199)},
		RSS:     []soakSample{{30 * time.Second, 300 << 20}, {90 * time.Second, 100 << 20}, {150 * time.Second, 150 << 20}},
		Lag:     []soakSample{{10 * time.Second, 0.5}, {100 * time.Second, 6}},
		Ledger:  soakLedger{Acknowledged: 10, Bodies: 9, Received: 9, Stored: 9}}
	res.Windows[1].Load.Kinds = map[string]cloud.Tally{"catalogue": {Answered: 1, P99: 1200 * time.Millisecond}}
	res.Windows[2].Load.Kinds = map[string]cloud.Tally{"catalogue": {Answered: 1, P99: 1500 * time.Millisecond}, "receipt": {Answered: 1, P99: 3 * time.Second}}
	got := map[string]string{}
	for _, g := range res.goals(o) {
		key := strings.Fields(g.name)[0]
		if strings.Contains(g.name, "catalogues") {
			key = "catalogues"
		}
		got[key] = g.result + " " + g.measured
	}
	for key, want := range map[string]string{
		"p99":        "PASS 30.0 ms at most (1:00–2:00)",
		"catalogues": "FAIL 1500.0 ms at most (2:00–3:00)", // the receipt of 3 s is not a catalogue
		"no":         "FAIL 3.00× at most (1:00–2:00)",
		"server":     "PASS 50 MiB (100 MiB–150 MiB)", // the first minute's 300 MiB is the warm-up
		"forwarding": "FAIL 6.0 s at most",
		"nothing":    "PASS",
		"the":        "PASS 199.0/s at least, 0 dropped",
	} {
		if !strings.HasPrefix(got[key], want) {
			t.Errorf("%s…: %q, want %q…", key, got[key], want)
		}
	}
	res.Ledger.Lost = 1
	res.Windows[2].Load.Dropped = 1
	for _, g := range res.goals(o) {
		if (strings.HasPrefix(g.name, "nothing") || strings.HasPrefix(g.name, "the load")) && g.result != "FAIL" {
			t.Errorf("%s: %s %s", g.name, g.result, g.measured)
		}
	}
}

// TestLedgerFindsWhatWasLostOrStoredTwice: a receipt acknowledged and never forwarded is lost,
// one forwarded twice was stored twice; a list acknowledged twice is owed two messages; bodies
// never acknowledged or never sent are told apart; user/create is not forwarded.
func TestLedgerFindsWhatWasLostOrStoredTwice(t *testing.T) {
	sum := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	line := func(status, op, body string) string {
		h := sum(body)
		return fmt.Sprintf("%s\t%s\tkind\t%s\n", status, op, hex.EncodeToString(h[:]))
	}
	answers := line("200", "postReceipts", "lost receipt") + line("200", "postReceipts", "receipt") + line("200", "postReceipts", "receipt") +
		line("200", "postReceipts", "receipt twice") + line("200", "putStores", "stores") + line("200", "putStores", "stores") +
		line("error", "subscriptionEvent", "given up") + line("200", "createUser", "user")
	path := filepath.Join(t.TempDir(), "answers.tsv")
	if err := os.WriteFile(path, []byte(answers), 0o600); err != nil {
		t.Fatal(err)
	}
	rcv := &soakReceiver{messages: 6, byBody: map[[32]byte]int{
		sum("receipt"): 1, sum("receipt twice"): 2, sum("stores"): 1, sum("given up"): 1, sum("never sent"): 1}}
	l, err := checkLedger(path, rcv, cloud.Metrics{})
	if err != nil {
		t.Fatal(err)
	}
	want := soakLedger{Acknowledged: 6, Bodies: 4, Received: 6, Lost: 2, Twice: 1, NotAcked: 1, Unexpected: 1}
	if l != want {
		t.Errorf("ledger %+v\nwant   %+v", l, want)
	}
	if l.ok() {
		t.Error("a ledger with losses is ok")
	}
	if err := os.WriteFile(path, []byte("200\tpostReceipts\tkind\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := checkLedger(path, rcv, cloud.Metrics{}); err == nil {
		t.Error("a line of three fields was read")
	}
}

// TestSoakPlotIsSVG: the plot is well-formed XML with a line per database and panel.
func TestSoakPlotIsSVG(t *testing.T) {
	r := soakReport{Options: soakOptions{rate: 200, duration: 2 * time.Minute, window: time.Minute}, Start: time.Now()}
	for _, db := range []string{"SQLite", "PostgreSQL"} {
		r.Runs = append(r.Runs, &soakResult{Database: db, Windows: []soakWindow{testWindow(0, 12*time.Millisecond, 200), testWindow(1, 14*time.Millisecond, 200)},
			RSS: []soakSample{{time.Second, 50 << 20}, {100 * time.Second, 52 << 20}}})
	}
	svg := soakPlot(r)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	lines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, svg)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 6 || !bytes.Contains(svg, []byte("goal 50.0 ms")) {
		t.Errorf("%d polylines (want 6: p99, RSS and others' work of two databases)\n%s", lines, svg)
	}
}

// TestProcessTreeIsFound: the soak counts its PostgreSQL's CPU by the postmaster's children.
func TestProcessTreeIsFound(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if children := childrenOf(os.Getpid()); !slices.Contains(children, cmd.Process.Pid) {
		t.Errorf("children of this process %v lack %d", children, cmd.Process.Pid)
	}
	if pid := postmasterOf("postgres://postgres@127.0.0.1:1/none"); pid != 0 {
		t.Errorf("a PostgreSQL on port 1: %d", pid)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", 90 * time.Second: "1m30s", 20 * time.Second: "20s",
		time.Hour: "1h", time.Minute: "1m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
	if windowUnit(time.Minute) != "minute" || windowUnit(20*time.Second) != "20s window" {
		t.Errorf("%q, %q", windowUnit(time.Minute), windowUnit(20*time.Second))
	}
}

// TestCPUProbeCountsItsOwnWork: the probe's CPU time is its own computation's, whatever else
// runs: positive, and not the wall time a busy machine adds (a goroutine spinning on every
// other CPU meanwhile does not make it several times longer).
func TestCPUProbeCountsItsOwnWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the probe reads a thread's CPU time on Linux only")
	}
	alone, err := cpuProbe()
	if err != nil || alone <= 0 {
		t.Fatalf("probe: %s, %v", alone, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	busy, err := cpuProbe()
	close(stop)
	wg.Wait()
	if err != nil || busy <= 0 || busy > 4*alone+10*time.Millisecond {
		t.Errorf("probe alone %s, beside busy goroutines %s (%v)", alone, busy, err)
	}
	if got := cpuSpeed(2*time.Millisecond, time.Millisecond); got != "0.50" {
		t.Errorf("cpuSpeed(2 ms, first 1 ms) = %s, want 0.50", got)
	}
}
