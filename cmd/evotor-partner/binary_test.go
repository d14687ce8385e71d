package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

// These tests run the real binary, built once into a temporary directory.

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Cleanup()
	os.Exit(code)
}

// binary is the real evotor-partner (tests/gobuild builds it once); the tests that run it are
// process-level, skipped under -short.
func binary(t *testing.T) string { return gobuild.ForTest(t, "evotor-partner") }

const testAppToken = "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"

// command is the binary with args and only the given environment (and PATH).
func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), envAppToken + "=" + testAppToken, envAddr + "=127.0.0.1:0", "EVOTOR_PARTNER_METRICS_ADDR=", "EVOTOR_PARTNER_SYNC_INTERVAL=off"}, env...)
	return cmd
}

type exit struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// runToExit runs cmd and waits for it to end; it is killed after limit (a hang fails the test).
func runToExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) exit {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitExit(t, cmd, start, limit, &stdout, &stderr)
}

func waitExit(t *testing.T, cmd *exec.Cmd, start time.Time, limit time.Duration, stdout, stderr *bytes.Buffer) exit {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after %s; stderr: %s", cmd.Args, limit, stderr)
	}
	return exit{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
}

// silentDatabase accepts connections and never answers; accepted receives each connection.
func silentDatabase(t *testing.T) (url string, accepted <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "postgres://partner@" + ln.Addr().String() + "/partner?sslmode=disable", ch
}

func randomKey() string {
	b := make([]byte, sealer.SecretKeySize)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestStartupGivesUpOnASilentDatabase: a database that accepts and never answers makes
// start-up fail, within the connect timeout, naming DATABASE_URL.
func TestStartupGivesUpOnASilentDatabase(t *testing.T) {
	url, _ := silentDatabase(t)
	const connectTimeout = 2 * time.Second
	e := runToExit(t, command(t, []string{envDatabaseURL + "=" + url, envSecretKey + "=" + randomKey(),
		envDBConnect + "=" + connectTimeout.String(), envDataDir + "=" + t.TempDir()}), 30*time.Second)
	t.Logf("exit %d after %s: %s", e.code, e.elapsed.Round(time.Millisecond), strings.TrimSpace(e.stderr))
	if e.code == 0 || !strings.Contains(e.stderr, envDatabaseURL) {
		t.Fatalf("exit %d, stderr %q: want non-zero and a message naming %s", e.code, e.stderr, envDatabaseURL)
	}
	if e.elapsed > connectTimeout+2*time.Second {
		t.Fatalf("gave up after %s, connect timeout %s", e.elapsed, connectTimeout)
	}
}

// TestStartupEndsOnSIGTERM: a signal while start-up waits for the database ends the process
// at once.
func TestStartupEndsOnSIGTERM(t *testing.T) {
	url, accepted := silentDatabase(t)
	var stdout, stderr bytes.Buffer
	cmd := command(t, []string{envDatabaseURL + "=" + url, envSecretKey + "=" + randomKey(),
		envDBConnect + "=1h", envDataDir + "=" + t.TempDir()})
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-accepted: // start-up is waiting for the database
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the server never connected to the database")
	}
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e := waitExit(t, cmd, signalled, 10*time.Second, &stdout, &stderr)
	t.Logf("exit %d %s after SIGTERM: %s", e.code, e.elapsed.Round(time.Millisecond), strings.TrimSpace(e.stderr))
	if e.code == 0 || !strings.Contains(e.stderr, envDatabaseURL) {
		t.Fatalf("exit %d, stderr %q: want non-zero and a message naming %s", e.code, e.stderr, envDatabaseURL)
	}
	if e.elapsed > time.Second {
		t.Fatalf("exited %s after SIGTERM", e.elapsed)
	}
}

// database is where a binary test keeps its data: SQLite in a directory, and PostgreSQL (a
// schema of its own) when TEST_DATABASE_URL is set.
type database struct {
	name string
	env  []string
	cfg  storage.Config
}

func databases(t *testing.T) []database {
	dir := t.TempDir()
	dbs := []database{{name: "sqlite", env: []string{envDataDir + "=" + dir}, cfg: storage.Config{DataDir: dir}}}
	if url := os.Getenv("TEST_DATABASE_URL"); url != "" {
		schemaURL := postgresSchema(t, url)
		dbs = append(dbs, database{name: "postgres", env: []string{envDataDir + "=" + t.TempDir(), envDatabaseURL + "=" + schemaURL},
			cfg: storage.Config{DatabaseURL: schemaURL}})
	}
	return dbs
}

// postgresSchema creates a schema dropped after the test and returns url pointing into it.
func postgresSchema(t *testing.T, url string) string {
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	schema := "cmd_" + randomKey()[:12]
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

func keysEnv(keys ...string) string { return envSecretKey + "=" + strings.Join(keys, ",") }

// serveStarts reports whether serve with the environment comes up (then stops it with SIGTERM,
// expecting a clean exit), or the exit when it does not.
func serveStarts(t *testing.T, env []string) (bool, exit) {
	t.Helper()
	cmd := command(t, env, "serve")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	serving := make(chan bool, 1)
	go func() {
		lines := bufio.NewScanner(out)
		found := false
		for lines.Scan() {
			stdout.WriteString(lines.Text() + "\n")
			if !found && strings.Contains(lines.Text(), `"msg":"serving"`) {
				found = true
				serving <- true
			}
		}
		if !found {
			serving <- false
		}
	}()
	var up bool
	select {
	case up = <-serving:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve neither served nor exited")
	}
	if up {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	e := waitExit(t, cmd, start, 20*time.Second, &stdout, &stderr)
	if up && e.code != 0 {
		t.Fatalf("serve stopped with %d: %s", e.code, e.stderr)
	}
	return up, e
}

// TestWrongSecretKeyRefusesStartUp: after a start with key A, a start with key C alone is
// refused with a message naming the variable, and so is "C,A" (the first key would seal what
// the instances holding A cannot open: a typo, or a rotation not run yet); after `secrets
// rotate` with "C,A", "C,A" starts.
func TestWrongSecretKeyRefusesStartUp(t *testing.T) {
	keyA, keyC := randomKey(), randomKey()
	for _, db := range databases(t) {
		t.Run(db.name, func(t *testing.T) {
			if up, e := serveStarts(t, append(db.env, keysEnv(keyA))); !up {
				t.Fatalf("first start: %s", e.stderr)
			}
			for _, keys := range [][]string{{keyC}, {keyC, keyA}} {
				up, e := serveStarts(t, append(db.env, keysEnv(keys...)))
				t.Logf("with %d keys, the first another: exit %d: %s", len(keys), e.code, strings.TrimSpace(e.stderr))
				if up || e.code == 0 || !strings.Contains(e.stderr, envSecretKey) {
					t.Fatalf("a start with %d keys, the first another: served %v, exit %d, stderr %q", len(keys), up, e.code, e.stderr)
				}
			}
			if e := runToExit(t, command(t, append(db.env, keysEnv(keyC, keyA)), "secrets", "rotate"), 30*time.Second); e.code != 0 {
				t.Fatalf("rotate: exit %d: %s", e.code, e.stderr)
			}
			if up, e := serveStarts(t, append(db.env, keysEnv(keyC, keyA))); !up {
				t.Fatalf("after the rotation, the new key before the old one: %s", e.stderr)
			}
		})
	}
}

// TestSecretsRotate: cloud tokens sealed with key B; `secrets rotate` with "A,B" re-seals them
// with A, after which A alone starts and opens them, and B alone is refused.
func TestSecretsRotate(t *testing.T) {
	keyA, keyB := randomKey(), randomKey()
	users := []string{"01-000000000000001", "01-000000000000002"}
	for _, db := range databases(t) {
		t.Run(db.name, func(t *testing.T) {
			sealerB := sealerOf(t, keyB)
			withStore(t, db.cfg, func(st *storage.Store) {
				if err := st.CheckSecretKey(context.Background(), sealerB); err != nil {
					t.Fatal(err)
				}
				for _, u := range users {
					if err := st.SaveCloudToken(context.Background(), u, sealerB.Seal([]byte("cloud-"+u), u)); err != nil {
						t.Fatal(err)
					}
				}
			})
			if e := runToExit(t, command(t, append(db.env, keysEnv(randomKey())), "secrets", "rotate"), 30*time.Second); e.code == 0 {
				t.Fatalf("rotate with a key that opens nothing succeeded: %s", e.stdout)
			}
			e := runToExit(t, command(t, append(db.env, keysEnv(keyA, keyB)), "secrets", "rotate"), 30*time.Second)
			t.Logf("rotate: exit %d: %s%s", e.code, e.stdout, e.stderr)
			if e.code != 0 || !strings.Contains(e.stdout, "re-sealed 2 cloud tokens") {
				t.Fatalf("rotate: exit %d, stdout %q, stderr %q", e.code, e.stdout, e.stderr)
			}
			if up, e := serveStarts(t, append(db.env, keysEnv(keyB))); up || !strings.Contains(e.stderr, envSecretKey) {
				t.Fatalf("the retired key B alone: served %v, stderr %q", up, e.stderr)
			}
			if up, e := serveStarts(t, append(db.env, keysEnv(keyA))); !up {
				t.Fatalf("the new key A alone: %s", e.stderr)
			}
			sealerA := sealerOf(t, keyA)
			withStore(t, db.cfg, func(st *storage.Store) {
				for _, user := range users {
					sealed, found, err := st.CloudToken(context.Background(), user)
					if err != nil || !found {
						t.Fatalf("token of %s: found %v, %v", user, found, err)
					}
					if plain, err := sealerA.Open(sealed, user); err != nil || string(plain) != "cloud-"+user {
						t.Errorf("token of %s with key A alone: %q %v", user, plain, err)
					}
				}
			})
		})
	}
}

func sealerOf(t *testing.T, hexKey string) *sealer.Sealer {
	key, _ := hex.DecodeString(hexKey)
	s, err := sealer.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func withStore(t *testing.T, cfg storage.Config, f func(*storage.Store)) {
	st, err := storage.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f(st)
}
