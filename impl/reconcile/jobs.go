package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// The periodic sync, on River (the queue forwarding uses, on both databases; its tables are
// migrated by impl/forward, which the server builds first). Every replica plans on a timer:
// one sync job per user with a valid cloud token, inserted unique by user and by interval
// (River's UniqueOpts ByArgs + ByPeriod), so replicas planning together queue each user once
// per interval; the jobs are worked by whichever replica fetches them, MaxWorkers at a time.
//
// Not a River periodic job: River elects one leader per database among all clients, and the
// forwarding client would often win it; periodic jobs of this client would then never run.

// queue is the River queue of sync jobs.
const queue = "reconcile"

// SyncArgs is one user's sync job.
type SyncArgs struct {
	UserID string `json:"user_id"`
}

// Kind names the job in River's tables.
func (SyncArgs) Kind() string { return "reconcile_sync" }

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	svc *Service
	// timeout bounds one sync (a user with tens of thousands of products takes minutes).
	timeout time.Duration
}

func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return w.timeout }

// Work syncs the user. A sync Evotor failed is recorded and done (the next interval tries
// again); only a sync that could not be recorded is retried by River.
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	_, err := w.svc.Sync(ctx, job.Args.UserID)
	return err
}

// PeriodicConfig is how the periodic sync runs.
type PeriodicConfig struct {
	Interval   time.Duration // how often each user is synced; > 0
	MaxWorkers int           // syncs at once per replica; default 2
	JobTimeout time.Duration // one sync's limit; default 30 minutes
	// RescueAfter is the River client's RescueStuckJobsAfter: whichever client leads runs the
	// rescuer for every queue, so give the value forwarding's client uses. A sync running
	// longer is taken for lost and queued again; the per-user lock makes a second run on the
	// same replica wait, and a second run elsewhere finds little left to change.
	RescueAfter time.Duration
	Logger      *slog.Logger
}

// Periodic plans and works the periodic syncs.
type Periodic struct {
	svc    *Service
	cfg    PeriodicConfig
	client *river.Client[*sql.Tx]
	stop   chan struct{}
	done   chan struct{}
}

// NewPeriodic builds the periodic sync over db (the store's; River's tables migrated).
func NewPeriodic(svc *Service, db *sql.DB, onPostgres bool, cfg PeriodicConfig) (*Periodic, error) {
	if cfg.Interval <= 0 {
		return nil, errors.New("periodic sync: no interval")
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 2
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db)
	if onPostgres {
		driver = riverdatabasesql.New(db)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{svc: svc, timeout: cfg.JobTimeout})
	client, err := river.NewClient(driver, &river.Config{
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{queue: {MaxWorkers: cfg.MaxWorkers}},
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           clientTimeout(cfg),
		MaxAttempts:          3,
		Logger:               slog.New(warnOnly{cfg.Logger.Handler()}),
	})
	if err != nil {
		return nil, fmt.Errorf("periodic sync queue: %w", err)
	}
	return &Periodic{svc: svc, cfg: cfg, client: client, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// clientTimeout is the client's default job timeout (the sync worker has its own): River wants
// it no longer than the rescue delay.
func clientTimeout(cfg PeriodicConfig) time.Duration {
	if cfg.RescueAfter > 0 {
		return min(cfg.JobTimeout, cfg.RescueAfter)
	}
	return 0
}

// Plan queues a sync of every user with a valid cloud token, once per interval whoever plans.
func (p *Periodic) Plan(ctx context.Context) (int, error) {
	users, err := p.svc.cfg.Store.UsersWithValidCloudToken(ctx)
	if err != nil || len(users) == 0 {
		return 0, err
	}
	params := make([]river.InsertManyParams, len(users))
	for i, u := range users {
		params[i] = river.InsertManyParams{Args: SyncArgs{UserID: u}, InsertOpts: &river.InsertOpts{Queue: queue,
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: p.cfg.Interval}}}
	}
	res, err := p.client.InsertMany(ctx, params)
	queued := 0
	for _, r := range res {
		if r != nil && !r.UniqueSkippedAsDuplicate {
			queued++
		}
	}
	return queued, err
}

// Start works the queue and plans first at a random moment 5 to 15 minutes from now (never
// later than one interval): replicas started together spread out, a deploy does not call
// Evotor for every user at once, and a sync asked for by hand right after a start (the
// README's walk-through) is not raced by the planner; then every interval, until ctx ends or
// Stop.
func (p *Periodic) Start(ctx context.Context) error {
	if err := p.client.Start(ctx); err != nil {
		return err
	}
	go func() {
		defer close(p.done)
		wait := min(p.cfg.Interval, 5*time.Minute+time.Duration(rand.Int64N(int64(10*time.Minute))))
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.stop:
				return
			case <-time.After(wait):
			}
			n, err := p.Plan(ctx)
			if err != nil {
				p.cfg.Logger.WarnContext(ctx, "periodic sync: planning failed", "error", err)
			} else if n > 0 {
				p.cfg.Logger.InfoContext(ctx, "periodic sync: users queued", "users", n)
			}
			wait = p.cfg.Interval
		}
	}()
	return nil
}

// Stop ends the planning and lets running syncs finish (until ctx ends).
func (p *Periodic) Stop(ctx context.Context) error {
	close(p.stop)
	<-p.done
	return p.client.Stop(ctx)
}

// warnOnly keeps River's own log to warnings and errors.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}
