package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/tests/freeport"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

// binaries are evotor-partner and evotor-cloud, built once per run (tests/gobuild) for the
// tests that need real processes (kill -9, several replicas, the README run as written); those
// tests skip under -short, here.
func binaries(t testing.TB) (partner, cloud string) {
	return gobuild.ForTest(t, "evotor-partner"), gobuild.ForTest(t, "evotor-cloud")
}

// freeAddr is a loopback address nobody listens on (yet), that stays free (tests/freeport).
func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// proc is a running binary; its output is kept for the failure message.
type proc struct {
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

// startProc runs a binary with env added to a clean environment, and kills it at the end.
func startProc(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), tail(p.out.String(), 4000))
		}
	})
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// partnerEnv is the environment of a server on addr over the database (DATABASE_URL, or the
// SQLite file in dataDir), forwarding to forwardURL ("": no forwarding).
func partnerEnv(addr, databaseURL, dataDir, forwardURL string) []string {
	env := []string{
		"EVOTOR_PARTNER_ADDR=" + addr,
		"EVOTOR_PARTNER_APP_TOKEN=" + appToken,
		"EVOTOR_PARTNER_SECRET_KEY=" + strings.Repeat("ab", 32),
		"EVOTOR_PARTNER_DATA_DIR=" + dataDir,
		"DATABASE_URL=" + databaseURL,
		"EVOTOR_PARTNER_METRICS_ADDR=",     // off: several servers run at once
		"EVOTOR_PARTNER_SYNC_INTERVAL=off", // the cloud tokens tests send are not Evotor's: never call api.evotor.ru
	}
	if forwardURL == "" {
		return env
	}
	return append(env, "EVOTOR_PARTNER_FORWARD_URL="+forwardURL, "EVOTOR_PARTNER_FORWARD_SECRET="+forwardSecret,
		"EVOTOR_PARTNER_FORWARD_RESCUE_AFTER=15s")
}

// startPartner runs evotor-partner and waits until it answers /healthz.
func startPartner(t testing.TB, env []string) *proc {
	t.Helper()
	bin, _ := binaries(t)
	p := startProc(t, bin, env, "serve")
	for _, kv := range env {
		if a, ok := strings.CutPrefix(kv, "EVOTOR_PARTNER_ADDR="); ok {
			p.addr = a
		}
	}
	p.waitHealthy(t)
	return p
}

// waitHealthy waits until the server answers /healthz.
func (p *proc) waitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if p.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("evotor-partner did not start: %v\n%s", err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends one webhook to a server; it returns the status (0: no answer).
func post(addr, path, authorization string, body []byte) int {
	status, _ := postRead(addr, path, authorization, body)
	return status
}

// postRead is post that also returns the answer's body.
func postRead(addr, path, authorization string, body []byte) (int, []byte) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authorization)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = bufio.NewReader(res.Body).WriteTo(&buf)
	return res.StatusCode, buf.Bytes()
}

// processDatabases: for each database, the DATABASE_URL of a fresh one for a server process
// ("" for SQLite, in the process's data directory).
func processDatabases() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return scratchDatabase(t) },
	}
}

// scratchDatabase is a fresh schema of TEST_DATABASE_URL for processes: the URL that selects
// it. Without TEST_DATABASE_URL the test is skipped (failed in CI).
func scratchDatabase(t testing.TB) string {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TEST_DATABASE_URL is unset")
		}
		t.Skip("TEST_DATABASE_URL unset")
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "p_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
