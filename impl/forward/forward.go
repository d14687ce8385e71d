package forward

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// queue names the job queues for sending messages: "forward" held every destination's before
// each had its own (queueOf); it is still worked, for jobs queued then.
const queue = "forward"

// Service owns the job queue: it puts a delivery's send jobs in the queue (from Accept's
// transaction) and, when started, sends them.
//
// Design (River gives no order per key; its sequences are a paid extension): River jobs give
// locking (one process works a job at a time), retries with our backoff, and rescue of jobs
// whose process died. Order comes from the outbox: only a user's earliest pending message (per
// destination) is sent, by the one job that owns it (forward_messages.job_id). A delivery gets
// a job only when nothing of its user is pending there; the job, once its message is answered,
// claims the user's next messages and sends them at once (a backlog drains at the
// destination's pace, not the queue's poll), so a user's messages go out one after another,
// never two at once, while other users' messages go out in parallel.
type Service struct {
	cfg          Config
	store        *storage.Store
	client       *river.Client[*sql.Tx]
	listener     *pgxpool.Pool // PostgreSQL: LISTEN for new jobs; nil: poll
	destinations map[string]Destination
	urls         []string // the destinations, in the configured order
	http         *http.Client
	policy       backoff
	maxAttempts  int
	retryAfter   sync.Map           // job id → how long its destination asked to wait (Retry-After)
	stopping     atomic.Bool        // Stop was called: jobs stop draining
	committed    chan struct{}      // PostgreSQL: a delivery's messages await numbering (sequence)
	stopped      context.Context    // done once Stop is called: sweep and sequence end
	stopLoops    context.CancelFunc // ends stopped
	logger       *slog.Logger
}

// New migrates the job queue's tables (beside ours, under the same advisory lock on
// PostgreSQL), builds its client and makes st's Accept enqueue a message per destination.
func New(ctx context.Context, st *storage.Store, cfg Config, logger *slog.Logger) (*Service, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, store: st, destinations: map[string]Destination{}, logger: logger,
		committed: make(chan struct{}, 1),
		http:      &http.Client{Timeout: cfg.Timeout, CheckRedirect: noRedirects},
		policy:    backoff{base: cfg.RetryBase, cap: cfg.RetryCap}}
	s.stopped, s.stopLoops = context.WithCancel(context.Background())
	s.maxAttempts = s.policy.maxAttempts(cfg.RetryFor)
	sqlDB, err := st.SQLDB()
	if err != nil {
		return nil, err
	}
	var driver riverdriver.Driver[*sql.Tx]
	if st.OnPostgres() {
		if err := migratePostgres(ctx, sqlDB); err != nil {
			return nil, err
		}
		driver = riverdatabasesql.New(sqlDB)
		if len(cfg.Destinations) > 0 && cfg.DatabaseURL != "" {
			if s.listener, err = listenerPool(ctx, cfg.DatabaseURL); err != nil {
				return nil, err
			}
			driver = riverdatabasesql.NewWithPgxListener(sqlDB, s.listener)
		}
	} else {
		driver = riversqlite.New(sqlDB)
		if err := migrateRiver(ctx, driver); err != nil {
			return nil, err
		}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &sender{svc: s})
	rc := &river.Config{
		Workers:              workers,
		RetryPolicy:          s.policy,
		JobTimeout:           cfg.jobTimeout(),
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
		Logger:               quiet(logger),
	}
	urls := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		urls[i] = d.URL
		s.destinations[d.URL] = d
	}
	if len(urls) > 0 { // no destination: an insert-only client (the admin API may re-send)
		// A queue of its own per destination, each with its own workers: a destination that
		// hangs or times out holds up its own messages only, never another's.
		rc.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: 1}} // jobs queued before queues per destination
		for _, u := range urls {
			rc.Queues[queueOf(u)] = river.QueueConfig{MaxWorkers: cfg.Workers}
		}
	}
	if s.client, err = river.NewClient(driver, rc); err != nil {
		s.closeListener()
		return nil, fmt.Errorf("forwarding queue: %w", err)
	}
	s.urls = urls
	return s, nil
}

// Outbox is where a delivery is forwarded, for the application to write with it, in the
// delivery's own transaction: a message per destination and its send job.
func (s *Service) Outbox() storage.Outbox {
	return storage.Outbox{Destinations: s.urls, InsertJobs: s.insertJobs, Committed: s.wakeSequencer}
}

// Sequence numbers every committed, unnumbered message and gives the heads among them their
// send jobs (PostgreSQL; on SQLite messages are numbered as they are written).
func (s *Service) Sequence(ctx context.Context) error {
	for {
		n, err := s.store.SequenceMessages(ctx, sequenceBatch, s.insertJobs)
		if err != nil || n < sequenceBatch {
			return err
		}
	}
}

// wakeSequencer tells sequence that messages await numbering (without waiting: one wake-up
// pending is enough, its round numbers them all).
func (s *Service) wakeSequencer() {
	select {
	case s.committed <- struct{}{}:
	default:
	}
}

// sequenceBatch is how many deliveries' messages one numbering transaction takes; sequenceEvery is how
// often the sequencer looks without being woken (for messages another replica committed and
// could not number, e.g. it was killed right after the commit). sequenceGather is how long a
// wake-up waits for the deliveries committing right behind the one that woke it.
const (
	sequenceBatch  = 500
	sequenceEvery  = time.Second
	sequenceGather = 50 * time.Millisecond
)

// sequence numbers committed messages (PostgreSQL; storage.SequenceMessages) until ctx ends:
// at once, then sequenceGather after a delivery of this process commits, and every
// sequenceEvery. A delivery is answered before it is numbered: the number is the forwarding
// order only. Gathering costs each message 50 ms of forwarding and saves most of the work:
// numbered one by one (as they were, at 200 deliveries a second), every delivery took a
// numbering transaction of 8 round trips and a send job of its own; numbered ten at a time,
// a user's messages of the batch share one job, which sends them as one run.
func (s *Service) sequence(ctx context.Context) {
	tick := time.NewTicker(sequenceEvery)
	defer tick.Stop()
	for {
		if err := s.Sequence(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("forwarding: numbering messages", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-s.committed:
			select {
			case <-ctx.Done():
				return
			case <-time.After(sequenceGather):
			}
		case <-tick.C:
		}
	}
}

// Start sends messages until ctx ends or Stop; without destinations it does nothing.
func (s *Service) Start(ctx context.Context) error {
	if len(s.destinations) == 0 {
		return nil
	}
	loops, cancel := context.WithCancel(ctx)
	context.AfterFunc(s.stopped, cancel)
	go s.sweep(loops)
	if s.store.OnPostgres() {
		go s.sequence(loops)
	}
	return s.client.Start(ctx)
}

// sweep revives orphans every SweepInterval until ctx ends: pending messages whose job is gone
// would otherwise never be sent (nor, being pending, re-sent as dead). Replicas sweeping
// together are harmless: a message is revived only while it still has the job it was found
// with.
func (s *Service) sweep(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		orphans, err := s.store.OrphanedMessages(ctx, 500)
		if err != nil {
			s.logger.Warn("forwarding: looking for orphaned messages", "error", err.Error())
			continue
		}
		for _, m := range orphans {
			if err := s.store.Revive(ctx, m, s.insertJobs); err != nil {
				s.logger.Warn("forwarding: reviving a message", "message", MessageID(m.InboxID), "error", err.Error())
			}
		}
		if len(orphans) > 0 {
			s.logger.Info("forwarding: orphaned messages given a fresh job", "messages", len(orphans))
		}
	}
}

// Stop lets the attempts in flight finish (until ctx ends, then cancels them) and closes.
func (s *Service) Stop(ctx context.Context) error {
	defer s.closeListener()
	if len(s.destinations) == 0 {
		return nil
	}
	s.stopping.Store(true)
	s.stopLoops() // what is left unnumbered is numbered at the next start
	err := s.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = s.client.StopAndCancel(context.Background())
	}
	return err
}

func (s *Service) closeListener() {
	if s.listener != nil {
		s.listener.Close()
	}
}

// Destinations lists the configured destinations' URLs.
func (s *Service) Destinations() []string {
	out := make([]string, 0, len(s.cfg.Destinations))
	for _, d := range s.cfg.Destinations {
		out = append(out, d.URL)
	}
	return out
}

// ResendDead re-sends the dead message id (id > 0) or every dead message of destination.
func (s *Service) ResendDead(ctx context.Context, id int64, destination string) (int, error) {
	return s.store.ResendDead(ctx, id, destination, s.insertJobs)
}

// queueOf is the job queue of a destination's messages: named after its URL (every replica
// names it alike), never after anything secret (URLs carry none).
func queueOf(destination string) string {
	sum := sha256.Sum256([]byte(destination))
	return queue + "_" + hex.EncodeToString(sum[:8])
}

// insertJobs is the store's JobInserter: one send job per message, inside the caller's tx.
func (s *Service) insertJobs(ctx context.Context, tx *sql.Tx, keys []storage.MessageKey) ([]int64, error) {
	params := make([]river.InsertManyParams, len(keys))
	for i, k := range keys {
		params[i] = river.InsertManyParams{Args: sendArgs{k}, InsertOpts: &river.InsertOpts{Queue: queueOf(k.Destination), MaxAttempts: s.maxAttempts}}
	}
	res, err := s.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.Job.ID
	}
	return ids, nil
}

// goose's lock: our migrations and the job queue's take turns under the same one.
const migrationLockID = 4097083626

// migratePostgres applies the job queue's migrations while holding the migrations' advisory
// lock, so replicas starting together do not race.
func migratePostgres(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
		return fmt.Errorf("forwarding queue: migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockID) //nolint:errcheck
	return migrateRiver(ctx, riverdatabasesql.New(db))
}

func migrateRiver(ctx context.Context, driver riverdriver.Driver[*sql.Tx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(nil)})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("forwarding queue: migrations: %w", err)
	}
	return nil
}

func listenerPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("forwarding queue: %w", err)
	}
	pc.MaxConns, pc.MinConns = 2, 0
	return pgxpool.NewWithConfig(ctx, pc)
}

// quiet keeps the queue's own log to warnings and errors.
func quiet(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(levelFilter{logger.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}

// shorten keeps an error message to a size fit for a column and a log line.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}
