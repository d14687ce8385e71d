package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/reconcile"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Reconciliation (impl/reconcile): calling Evotor back with each user's cloud token.
const (
	envEvotorAPIURL = "EVOTOR_PARTNER_EVOTOR_API_URL"
	envSyncInterval = "EVOTOR_PARTNER_SYNC_INTERVAL"
)

// defaultSyncInterval: every user with a valid cloud token is synced every 6 hours. Webhooks
// are the channel (seconds); reconciliation only heals what they missed, so a missed webhook
// is healed within a quarter of a day, while a user costs Evotor's rate limit a few calls per
// sync (stores, devices, employees, and per store one per 1,000 products and groups): four
// syncs a day is far below what a merchant's own apps spend. `off` (or 0) leaves it to
// `POST /admin/v1/users/{userId}/sync` and `evotor-partner sync`.
const defaultSyncInterval = 6 * time.Hour

// minSyncInterval refuses a typo such as 6m for 6h: a sync lists a user's whole inventory.
const minSyncInterval = 5 * time.Minute

// syncConfig is what reconciliation is configured with.
type syncConfig struct {
	APIURL   string
	Interval time.Duration // 0: no periodic sync
}

func loadSyncConfig() (syncConfig, error) {
	c := syncConfig{APIURL: env(envEvotorAPIURL, evotorapi.DefaultBaseURL), Interval: defaultSyncInterval}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return c, fmt.Errorf("%s: want an absolute http(s) URL without credentials or query, such as %s, got %q", envEvotorAPIURL, evotorapi.DefaultBaseURL, c.APIURL)
	}
	switch v := os.Getenv(envSyncInterval); v {
	case "":
	case "0", "off":
		c.Interval = 0
	default:
		d, err := time.ParseDuration(v)
		if err != nil || d < minSyncInterval {
			return c, fmt.Errorf("%s: want a duration of at least %s such as 6h, or off, got %q", envSyncInterval, minSyncInterval, v)
		}
		c.Interval = d
	}
	return c, nil
}

// newReconciler builds the reconcile service; outbox (nil: none) is forwarding's; observe
// and calls (nil: none) count syncs and Evotor's answers.
func newReconciler(st *storage.Store, s *sealer.Sealer, c syncConfig, policy impl.Policy, outbox func() storage.Outbox,
	logger *slog.Logger, observe func(string, int64), calls func(op string, status int, took time.Duration)) (*reconcile.Service, error) {
	client, err := evotorapi.New(evotorapi.Config{BaseURL: c.APIURL, Logger: logger, Observe: calls})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envEvotorAPIURL, err)
	}
	return reconcile.New(reconcile.Config{Store: st, Sealer: s, Client: client, Rows: impl.WebhookRows(), Policy: policy,
		Outbox: outbox, Logger: logger, Observe: observe}), nil
}

func syncCommand(fs *flag.FlagSet) cli.Action {
	user := fs.String("user", "", "the Evotor `user` id to sync (required)")
	return func(ctx context.Context, _ []string, std cli.Streams) error {
		if *user == "" {
			return cli.UsageError(errors.New("--user is required"))
		}
		return syncUser(ctx, *user, std.Stdout)
	}
}

// syncUser is `sync --user ID`: one sync now, printed as the admin API shows it; a failed sync
// is an error (exit status 1). What it finds is forwarded as the server would.
func syncUser(ctx context.Context, userID string, stdout io.Writer) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	st, sealer, err := openStoreWithKeys(ctx, cfg.Store, cfg.SecretKeys, false)
	if err != nil {
		return err
	}
	defer st.Close()
	fwd, err := forward.New(ctx, st, cfg.Forward, logger) // not started: it only queues what is found
	if err != nil {
		return err
	}
	rec, err := newReconciler(st, sealer, cfg.Sync, impl.Policy{RequireActiveSubscription: cfg.RequireSub}, fwd.Outbox, logger, nil, nil)
	if err != nil {
		return err
	}
	state, err := rec.Sync(ctx, userID)
	if err != nil {
		return err
	}
	out := map[string]any{"userId": state.EvotorUserID, "state": state.State, "startedAt": state.StartedAt.UTC(),
		"fetched": state.Fetched, "changed": state.Changed, "missing": state.Missing}
	if state.FinishedAt != nil {
		out["finishedAt"] = state.FinishedAt.UTC()
	}
	if state.Error != nil {
		out["error"] = *state.Error
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	if state.State != storage.SyncSucceeded {
		return errors.New("the sync failed")
	}
	return nil
}

// startPeriodicSync syncs every user with a valid cloud token every c.Interval (nothing when
// it is 0); stop lets running syncs end (up to 10 s).
func startPeriodicSync(ctx context.Context, st *storage.Store, rec *reconcile.Service, c syncConfig, rescue time.Duration, logger *slog.Logger) (stop func(), err error) {
	if c.Interval <= 0 {
		logger.Info("periodic sync off", "variable", envSyncInterval)
		return func() {}, nil
	}
	db, err := st.SQLDB()
	if err != nil {
		return nil, err
	}
	p, err := reconcile.NewPeriodic(rec, db, st.OnPostgres(), reconcile.PeriodicConfig{Interval: c.Interval, RescueAfter: rescue, Logger: logger})
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Stop(stopCtx); err != nil {
			logger.Warn("periodic sync: stopping", "error", err)
		}
	}, nil
}
