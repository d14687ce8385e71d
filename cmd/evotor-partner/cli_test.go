package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/tests/freeport"
)

// quietEnv is the environment of a run that must not start anything: the data directory it
// would create, and a port it could take.
func quietEnv(t *testing.T) (env []string, dataDir string) {
	dataDir = filepath.Join(t.TempDir(), "data")
	return []string{envDataDir + "=" + dataDir, envMetricsAddr + "=", envAddr + "=" + freeAddr(t)}, dataDir
}

// freeAddr is a loopback address nothing listens on (tests/freeport).
func freeAddr(t *testing.T) string {
	addr, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func expectNoDataDir(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was created (%v)", err)
	}
}

// TestHelpStartsNothing: every way of asking for help prints usage to stdout and exits 0 at
// once, without serving or touching the data directory.
func TestHelpStartsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"serve", "-h"}, {"serve", "help"}, {"help", "serve"},
		{"accounts", "add", "--help"}, {"accounts", "add", "--login", "x", "-h"}, {"accounts", "--help"}, {"help", "accounts", "add"},
		{"secrets", "rotate", "--help"}, {"help", "secrets", "rotate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			env, dataDir := quietEnv(t)
			e := runToExit(t, command(t, env, args...), 10*time.Second)
			if e.code != 0 || !strings.Contains(e.stdout, "usage: evotor-partner") || e.stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want 0 and usage on stdout only", e.code, e.stdout, e.stderr)
			}
			if strings.Contains(e.stdout, `"msg":"serving"`) {
				t.Fatal("help started the server")
			}
			expectNoDataDir(t, dataDir)
		})
	}
}

// TestBadCommandLinesExitTwoWithUsage: unknown flags and commands and stray arguments are
// refused with the problem and usage on stderr, before anything starts.
func TestBadCommandLinesExitTwoWithUsage(t *testing.T) {
	for _, c := range []struct {
		args    []string
		problem string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "--bogus"}, "unknown flag --bogus"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"accounts"}, `unknown command "accounts"`},
		{[]string{"accounts", "remove"}, `unknown command "accounts remove"`},
		{[]string{"accounts", "add", "--login", "x", "--password-stdin", "garbage", "--bogus"}, "unknown flag --bogus"},
		{[]string{"accounts", "add", "--login", "x", "--password-stdin", "garbage"}, `unexpected argument "garbage"`},
		{[]string{"accounts", "add", "--login", "x"}, "--password-stdin are required"},
		{[]string{"secrets", "rotate", "now"}, `unexpected argument "now"`},
		{[]string{"sync"}, "--user is required"},
		{[]string{"sync", "--user", "u", "more"}, `unexpected argument "more"`},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"--version", "x"}, `unexpected argument "x"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			env, dataDir := quietEnv(t)
			cmd := command(t, env, c.args...)
			cmd.Stdin = strings.NewReader("s3cret\n")
			e := runToExit(t, cmd, 10*time.Second)
			if e.code != 2 || !strings.Contains(e.stderr, c.problem) || !strings.Contains(e.stderr, "usage: evotor-partner") || e.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want 2, %q and usage on stderr", e.code, e.stdout, e.stderr, c.problem)
			}
			expectNoDataDir(t, dataDir)
		})
	}
}

func TestVersion(t *testing.T) {
	env, _ := quietEnv(t)
	e := runToExit(t, command(t, env, "--version"), 10*time.Second)
	if e.code != 0 || !strings.HasPrefix(e.stdout, "evotor-partner ") || !strings.Contains(e.stdout, " go1.") {
		t.Fatalf("exit %d, stdout %q, stderr %q", e.code, e.stdout, e.stderr)
	}
}

// TestStartupNamesTheVariableAtFault: an address taken or without a port, a data directory
// that cannot be one, a log level unknown: exit 1 naming the variable, never "serving".
func TestStartupNamesTheVariableAtFault(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	notADir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		env      []string
		args     []string
		variable string
	}{
		{"port taken", []string{envAddr + "=" + taken.Addr().String()}, nil, envAddr},
		{"no colon", []string{envAddr + "=8080"}, nil, envAddr},
		{"data dir under a file", []string{envDataDir + "=" + filepath.Join(notADir, "data")}, nil, envDataDir},
		{"accounts add, data dir under a file", []string{envDataDir + "=" + filepath.Join(notADir, "data")},
			[]string{"accounts", "add", "--login", "shop", "--password-stdin"}, envDataDir},
		{"log level", []string{envLogLevel + "=loud"}, nil, envLogLevel},
		{"sync interval", []string{envSyncInterval + "=6m0"}, nil, envSyncInterval},
		{"sync interval too short", []string{envSyncInterval + "=1m"}, nil, envSyncInterval},
		{"evotor api url", []string{envEvotorAPIURL + "=ftp://api.evotor.ru"}, nil, envEvotorAPIURL},
		{"sync, evotor api url", []string{envEvotorAPIURL + "=api.evotor.ru"}, []string{"sync", "--user", "u"}, envEvotorAPIURL},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, _ := quietEnv(t)
			cmd := command(t, append(env, c.env...), c.args...)
			cmd.Stdin = strings.NewReader("s3cret\n")
			e := runToExit(t, cmd, 20*time.Second)
			t.Logf("exit %d: %s", e.code, strings.TrimSpace(e.stderr))
			if e.code != 1 || !strings.Contains(e.stderr, c.variable) || strings.Contains(e.stdout, `"msg":"serving"`) {
				t.Fatalf("exit %d, stdout %q, stderr %q: want 1 naming %s", e.code, e.stdout, e.stderr, c.variable)
			}
		})
	}
}

// TestLogLevelWarn: at warn, the INFO lines (start-up, access log) are gone and a refusal's
// WARN line, with its request id, is there.
func TestLogLevelWarn(t *testing.T) {
	env, _ := quietEnv(t)
	addr := freeAddr(t)
	cmd := command(t, append(env, envAddr+"="+addr, envLogLevel+"=warn"), "serve")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	res := refusedRequest(t, "http://"+addr)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	e := waitExit(t, cmd, time.Now(), 20*time.Second, &stdout, &stderr)
	id := res.Header.Get("X-Request-Id")
	if e.code != 0 || strings.Contains(e.stdout, `"level":"INFO"`) || id == "" ||
		!strings.Contains(e.stdout, `"msg":"request refused"`) || !strings.Contains(e.stdout, `"request_id":"`+id+`"`) {
		t.Fatalf("exit %d, X-Request-Id %q, log:\n%s%s", e.code, id, e.stdout, e.stderr)
	}
	for _, line := range strings.Split(e.stdout, "\n") {
		if strings.Count(line, `"request_id"`) > 1 {
			t.Errorf("request_id twice (the logger wrapped twice): %s", line)
		}
	}
}

// refusedRequest sends user/create with a wrong app token once the server answers.
func refusedRequest(t *testing.T, base string) *http.Response {
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Post(base+"/api/v1/user/create", "application/json", strings.NewReader(`{"userId":"01-000000000000001"}`))
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", res.StatusCode)
			}
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
