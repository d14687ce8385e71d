package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// envRetention is how long delivered forwarding messages and inbox rows are kept.
const envRetention = "EVOTOR_PARTNER_RETENTION"

// defaultRetention keeps a month: the admin API's events of the last 30 days, ten times as
// long as a failing message is retried.
const defaultRetention = 30 * 24 * time.Hour

// minRetention refuses a typo such as 30m for 30d.
const minRetention = time.Hour

// retention reads EVOTOR_PARTNER_RETENTION: days (30d) or a Go duration (720h), at least an
// hour; 0 or off keeps everything (returned as 0).
func retention() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(envRetention))
	switch v {
	case "":
		return defaultRetention, nil
	case "0", "off":
		return 0, nil
	}
	bad := fmt.Errorf("%s: want days such as 30d, a duration of at least %s such as 720h, or off (0), got %q", envRetention, minRetention, v)
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d == 0 {
		return 0, nil
	}
	if d < minRetention {
		return 0, bad
	}
	return d, nil
}

// pruneEvery is how often each replica prunes. Each run deletes what aged past the retention
// since the last one, DefaultPruneBatch rows per transaction; replicas running together take
// turns (storage.Prune).
const pruneEvery = 10 * time.Minute

// pruner deletes what is older than keep, every `every` (the first run within a minute of
// start, at a random moment, so that replicas started together spread out), until stopped.
type pruner struct {
	st     *storage.Store
	keep   time.Duration
	every  time.Duration
	first  time.Duration // before the first run
	now    func() time.Time
	logger *slog.Logger
}

// startRetention prunes in the background until ctx ends or the returned stop is called (stop
// waits for a run in progress to end). keep 0: nothing is ever pruned.
func startRetention(ctx context.Context, st *storage.Store, keep time.Duration, logger *slog.Logger) (stop func()) {
	if keep <= 0 {
		logger.Info("retention off: everything is kept", "variable", envRetention)
		return func() {}
	}
	p := &pruner{st: st, keep: keep, every: pruneEvery, first: rand.N(time.Minute), now: time.Now, logger: logger}
	return p.start(ctx)
}

func (p *pruner) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait := time.NewTimer(p.first)
		defer wait.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wait.C:
			}
			p.run(ctx)
			wait.Reset(p.every)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// run prunes once and logs a line when it deleted something or failed.
func (p *pruner) run(ctx context.Context) {
	started := p.now()
	cutoff := started.Add(-p.keep)
	pruned, err := p.st.Prune(ctx, cutoff, storage.DefaultPruneBatch)
	switch {
	case err != nil && ctx.Err() == nil:
		p.logger.Warn("retention: pruning failed", "error", err.Error(), "forward_messages", pruned.ForwardMessages, "inbox", pruned.Inbox)
	case pruned.Any():
		p.logger.Info("retention: pruned", "forward_messages", pruned.ForwardMessages, "inbox", pruned.Inbox,
			"older_than", cutoff.UTC().Format(time.RFC3339), "duration_ms", p.now().Sub(started).Milliseconds())
	}
}
