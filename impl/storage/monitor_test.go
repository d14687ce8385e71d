package storage

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A database is down only after two unanswered pings in a row (one alone is a machine's hiccup,
// not an outage), and up again at the first answer; each change of verdict is logged once.
// Random sequences of answers against the rule's model.
func TestDatabaseIsDownOnlyAfterPingsUnansweredInARow(t *testing.T) {
	config, err := pgx.ParseConfig("postgres://nobody@localhost/nothing")
	if err != nil {
		t.Fatal(err)
	}
	logs := &verdictLog{}
	m := newMonitor(config, 4*time.Millisecond, slog.New(logs))
	asked, answers := make(chan struct{}), make(chan bool)
	m.ping = func(ctx context.Context) bool {
		select {
		case asked <- struct{}{}: // the previous ping's verdict is recorded
		case <-ctx.Done():
			return false
		}
		select {
		case answered := <-answers:
			return answered
		case <-ctx.Done():
			return false
		}
	}
	m.start()
	defer m.close()

	rng := rand.New(rand.NewPCG(19, uint64(time.Now().UnixNano())))
	const inARow = 2 // the rule, written out: missesBeforeDown must not drift from it unseen
	misses, down, downs, ups := 0, false, 0, 0
	for i := range 400 {
		<-asked
		if m.isDown() != down {
			t.Fatalf("after ping %d (%d unanswered in a row): down %v, want %v", i, misses, m.isDown(), down)
		}
		answered := rng.IntN(3) == 0 // runs of misses of every length up to a few
		answers <- answered
		if answered {
			misses = 0
		} else {
			misses++
		}
		switch now := misses >= inARow; {
		case now && !down:
			downs++
		case !now && down:
			ups++
		}
		down = misses >= inARow
	}
	<-asked
	if m.isDown() != down {
		t.Fatalf("after the last ping: down %v, want %v", m.isDown(), down)
	}
	if downs == 0 || ups == 0 {
		t.Fatalf("the sequence never went down and up (%d, %d): not a test", downs, ups)
	}
	if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != downs || i != ups {
		t.Errorf("logged %d outages and %d recoveries, want %d and %d", w, i, downs, ups)
	}
}

// verdictLog counts records by level.
type verdictLog struct {
	mu     sync.Mutex
	levels map[slog.Level]int
}

func (l *verdictLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *verdictLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *verdictLog) WithGroup(string) slog.Handler            { return l }
func (l *verdictLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.levels == nil {
		l.levels = map[slog.Level]int{}
	}
	l.levels[r.Level]++
	return nil
}

func (l *verdictLog) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.levels[level]
}
