package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

func TestRetentionVariable(t *testing.T) {
	t.Setenv(envDataDir, t.TempDir())
	t.Setenv(envAppToken, "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8")
	for value, want := range map[string]time.Duration{
		"": defaultRetention, "30d": 30 * 24 * time.Hour, "7d": 7 * 24 * time.Hour, "720h": 720 * time.Hour,
		"36h30m": 36*time.Hour + 30*time.Minute, "1h": time.Hour, "0": 0, "off": 0, "0d": 0, "0s": 0,
	} {
		t.Setenv(envRetention, value)
		c, err := loadConfig()
		if err != nil || c.Retention != want {
			t.Errorf("%s=%q: %v, %v; want %v", envRetention, value, c.Retention, err, want)
		}
	}
	for _, bad := range []string{"30", "30m", "-1d", "-720h", "d", "1.5d", "thirty days", "never"} {
		t.Setenv(envRetention, bad)
		if _, err := loadConfig(); err == nil || !strings.Contains(err.Error(), envRetention) {
			t.Errorf("%s=%q: error %v does not name the variable", envRetention, bad, err)
		}
	}
}

// TestPrunerLogsWhatItPruned: a run that deletes something logs one info line saying what;
// a run with nothing to do logs nothing; stop waits for the goroutine.
func TestPrunerLogsWhatItPruned(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, at := range []time.Time{time.Now().Add(-40 * 24 * time.Hour), time.Now()} {
		if err := st.Accept(ctx, storage.InboxEntry{Operation: "subscriptionEvent", PathParams: "{}", ReceivedAt: at, Body: []byte(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var log lockedBuffer
	p := &pruner{st: st, keep: defaultRetention, every: 20 * time.Millisecond, now: time.Now,
		logger: slog.New(slog.NewJSONHandler(&log, nil))}
	stop := p.start(ctx)
	time.Sleep(200 * time.Millisecond) // about ten runs
	stop()

	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, for the one run that pruned:\n%s", log.String())
	}
	var line struct {
		Level, Msg      string
		ForwardMessages int64 `json:"forward_messages"`
		Inbox           int64
		OlderThan       string `json:"older_than"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "INFO" || line.Msg != "retention: pruned" || line.Inbox != 1 || line.ForwardMessages != 0 || line.OlderThan == "" {
		t.Fatalf("log line: %s", lines[0])
	}
}

func TestRetentionOffStartsNothing(t *testing.T) {
	var log lockedBuffer
	stop := startRetention(context.Background(), nil, 0, slog.New(slog.NewJSONHandler(&log, nil)))
	stop()
	if !strings.Contains(log.String(), "retention off") || !strings.Contains(log.String(), envRetention) {
		t.Fatalf("log: %s", log.String())
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
