// Command evotor-partner is the server Evotor Cloud calls: `serve` (the default) runs it,
// `accounts add` creates a partner account before any Evotor user exists, `secrets rotate`
// re-seals the stored cloud tokens with the first secret key.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/internal/cli"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/logging"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

var program = cli.Program{
	Name:    "evotor-partner",
	Summary: "evotor-partner is the server Evotor Cloud calls.",
	Commands: []cli.Command{
		{Name: "serve", Summary: "run the server", Details: configNote, Setup: serveCommand},
		{Name: "accounts add", Summary: "create a partner account before any Evotor user exists", Details: configNote, Setup: accountsAddCommand},
		{Name: "secrets rotate", Summary: "re-seal the stored cloud tokens with the first key of " + envSecretKey,
			Details: "Run it once every instance runs with the new key first; then the old keys can go.\n" + configNote, Setup: secretsRotateCommand},
		{Name: "sync", Summary: "sync one Evotor user with Evotor now (reconciliation: what the webhooks missed)",
			Details: "Prints the sync as GET /admin/v1/users/{userId}/sync shows it; exits 1 when it failed.\n" + configNote, Setup: syncCommand},
		{Name: "healthcheck", Summary: "GET /healthz of the server on this machine: exit 0 when it answers 200 (the container's probe)",
			Details: "Reads only " + envAddr + " (for the port).", Setup: healthcheckCommand},
	},
	Default: "serve",
	Footer:  configNote,
}

const configNote = "Configuration comes from the environment (README.md, Configuration)."

func main() {
	// SIGINT and SIGTERM end every command, start-up included.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := program.Run(ctx, os.Args[1:], cli.Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

func serveCommand(*flag.FlagSet) cli.Action {
	return func(ctx context.Context, _ []string, _ cli.Streams) error { return serve(ctx) }
}

func accountsAddCommand(fs *flag.FlagSet) cli.Action {
	login := fs.String("login", "", "the account's `login` (required)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (required)")
	hasBilling := fs.Bool("has-billing", false, "the partner bills this account itself (hasBilling)")
	return func(ctx context.Context, _ []string, std cli.Streams) error {
		if *login == "" || !*passwordStdin {
			return cli.UsageError(errors.New("--login and --password-stdin are required"))
		}
		return addAccount(ctx, *login, *hasBilling, std.Stdin, std.Stdout)
	}
}

func secretsRotateCommand(*flag.FlagSet) cli.Action {
	return func(ctx context.Context, _ []string, std cli.Streams) error { return rotateSecrets(ctx, std.Stdout) }
}

func serve(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := slog.New(logging.WithRequestIDs(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel})))
	for _, note := range cfg.notes {
		logger.Info(note)
	}
	cfg.Store.Logger = logger
	st, sealer, err := openStoreWithKeys(ctx, cfg.Store, cfg.SecretKeys, false)
	if err != nil {
		return err
	}
	defer st.Close()
	stopRetention := startRetention(ctx, st, cfg.Retention, logger)
	defer stopRetention()
	metricsSrv, err := startMetrics(cfg.MetricsAddr, cfg.Profiling, st, logger) // its own listener, stopped after the API's
	if err != nil {
		return err
	}
	defer metricsSrv.stop()
	cfg.Forward.Observe = metricsSrv.registry().ForwardAttempt // every attempt counted, by status
	fwd, err := forward.New(ctx, st, cfg.Forward, logger)
	if err != nil {
		return err
	}
	if err := fwd.Start(ctx); err != nil {
		return err
	}
	defer stopForwarding(fwd, logger)
	policy := impl.Policy{RequireActiveSubscription: cfg.RequireSub}
	rec, err := newReconciler(st, sealer, cfg.Sync, policy, fwd.Outbox, logger, metricsSrv.registry().SyncEnded, metricsSrv.registry().EvotorCall)
	if err != nil {
		return err
	}
	stopSync, err := startPeriodicSync(ctx, st, rec, cfg.Sync, cfg.Forward.Rescue(), logger)
	if err != nil {
		return err
	}
	defer stopSync()
	api, err := impl.NewAPI(impl.APIConfig{Store: st, Sealer: sealer, App: cfg.App, AdminToken: cfg.AdminToken, Logger: logger,
		BodyLimit: cfg.BodyLimit, BodyBudget: cfg.BodyBudget, TokenGrace: cfg.TokenGrace, RequireActiveSubscription: cfg.RequireSub,
		Metrics: metricsSrv.registry(), Forwarding: fwd, Sync: rec})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s=%s: %w", envAddr, cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second, // a 10 MB catalogue over a slow link
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	logger.Info("serving", "url", "http://"+displayAddr(ln.Addr()), "database", st.Dialect(), "secret_keys", len(cfg.SecretKeys),
		"app_tokens", len(cfg.App.Tokens), "app_basic", cfg.App.BasicUser != "", "dev_app_token", cfg.DevToken, "admin_api", cfg.AdminToken != "",
		"forward_destinations", len(cfg.Forward.Destinations), "retention", cfg.Retention.String(),
		"evotor_api", cfg.Sync.APIURL, "sync_interval", cfg.Sync.Interval.String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// stopForwarding lets the messages in flight finish (up to 10 s) after the server stopped.
func stopForwarding(fwd *forward.Service, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fwd.Stop(ctx); err != nil {
		logger.Warn("stopping forwarding", "error", err.Error())
	}
}

// displayAddr is the address bound, with localhost for "every interface".
func displayAddr(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return addr.String()
}

// openStore connects and migrates within the connect timeout, or until a signal; a failure
// names the variable to look at.
func openStore(ctx context.Context, c storage.Config) (*storage.Store, error) {
	st, err := storage.Connect(ctx, c)
	switch {
	case err == nil:
		return st, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted while connecting to the database (%s)", envDatabaseURL)
	case c.DatabaseURL != "":
		return nil, fmt.Errorf("%s: %w; %s=%s", envDatabaseURL, err, envDBConnect, c.ConnectTimeout)
	default:
		return nil, fmt.Errorf("SQLite database in %s (%s; %s unset): %w", c.DataDir, envDataDir, envDatabaseURL, err)
	}
}

// openStoreWithKeys is openStore, then the check that the secret keys open what the database
// holds sealed, the first key included (rotating: `secrets rotate`, which re-seals with the
// first key, may start from a check a later key sealed).
func openStoreWithKeys(ctx context.Context, c storage.Config, keys [][]byte, rotating bool) (*storage.Store, *sealer.Sealer, error) {
	sealer, err := sealer.New(keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", envSecretKey, err)
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if err := st.CheckSecretKey(ctx, sealer); err != nil && !(rotating && errors.Is(err, storage.ErrStaleFirstKey)) {
		_ = st.Close()
		if errors.Is(err, storage.ErrStaleFirstKey) {
			return nil, nil, fmt.Errorf("%s: %w: check the first key for a typo, or, rotating, run `evotor-partner secrets rotate` "+
				"with this list before starting servers with it", envSecretKey, err)
		}
		if errors.Is(err, storage.ErrWrongSecretKey) {
			return nil, nil, fmt.Errorf("%s: %w: they were sealed with another key (another instance's, or one generated "+
				"into a data directory since lost); configure that key (to rotate, put the new one first and run `evotor-partner secrets rotate`)", envSecretKey, err)
		}
		return nil, nil, fmt.Errorf("checking %s against the database: %w", envSecretKey, err)
	}
	return st, sealer, nil
}

// addAccount is `accounts add`: the password is read from stdin so it never shows in the
// process list or the shell history.
func addAccount(ctx context.Context, login string, hasBilling bool, stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("empty password on stdin")
	}
	c, err := loadStoreConfig()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := st.AddAccount(ctx, storage.NewAccount{Login: login, PasswordHash: security.HashPassword(password), HasBilling: hasBilling})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "account %d created (login %q)\n", id, login)
	return nil
}

// rotateSecrets is `secrets rotate`: every stored cloud token and the key check value re-sealed
// with the first key of EVOTOR_PARTNER_SECRET_KEY, in one transaction.
func rotateSecrets(ctx context.Context, stdout io.Writer) error {
	c, err := loadStoreConfig()
	if err != nil {
		return err
	}
	keys, _, err := loadSecretKeys(c)
	if err != nil {
		return err
	}
	st, sealer, err := openStoreWithKeys(ctx, c, keys, true)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.ResealSecrets(ctx, sealer)
	if err != nil {
		return fmt.Errorf("%s: nothing re-sealed: %w", envSecretKey, err)
	}
	fmt.Fprintf(stdout, "re-sealed %d cloud tokens and the key check value with the first key of %s\n", n, envSecretKey)
	return nil
}
