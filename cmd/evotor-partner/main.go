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
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

const usage = `usage:
  evotor-partner [serve]                                     run the server
  evotor-partner accounts add --login L --password-stdin [--has-billing]
                                                             create a partner account
  evotor-partner secrets rotate                              re-seal the stored cloud tokens with the
                                                             first key of EVOTOR_PARTNER_SECRET_KEY
Configuration comes from the environment (see README.md).`

func main() {
	// SIGINT and SIGTERM end every command, start-up included.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 0 || args[0] == "serve":
		err = serve(ctx)
	case len(args) >= 2 && args[0] == "accounts" && args[1] == "add":
		err = addAccount(ctx, args[2:], os.Stdin, os.Stdout)
	case len(args) == 2 && args[0] == "secrets" && args[1] == "rotate":
		err = rotateSecrets(ctx, os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "evotor-partner:", err)
		stop()
		os.Exit(1)
	}
}

func serve(ctx context.Context) error {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	for _, note := range cfg.notes {
		logger.Info(note)
	}
	st, sealer, err := openStoreWithKeys(ctx, cfg.Store, cfg.SecretKeys)
	if err != nil {
		return err
	}
	defer st.Close()
	fwd, err := forward.New(ctx, st, cfg.Forward, logger)
	if err != nil {
		return err
	}
	if err := fwd.Start(ctx); err != nil {
		return err
	}
	defer stopForwarding(fwd, logger)
	metricsSrv, err := startMetrics(cfg.MetricsAddr, st, logger) // its own listener, stopped after the API's
	if err != nil {
		return err
	}
	defer metricsSrv.stop()
	api, err := impl.NewAPI(impl.APIConfig{Store: st, Sealer: sealer, App: cfg.App, AdminToken: cfg.AdminToken, Logger: logger,
		BodyLimit: cfg.BodyLimit, TokenGrace: cfg.TokenGrace, RequireActiveSubscription: cfg.RequireSub,
		Metrics: metricsSrv.registry(), Forwarding: fwd})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second, // a 10 MB catalogue over a slow link
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	logger.Info("serving", "url", "http://"+displayAddr(cfg.Addr), "database", st.Dialect(), "secret_keys", len(cfg.SecretKeys),
		"app_tokens", len(cfg.App.Tokens), "app_basic", cfg.App.BasicUser != "", "dev_app_token", cfg.DevToken, "admin_api", cfg.AdminToken != "",
		"forward_destinations", len(cfg.Forward.Destinations))

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
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

func displayAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "localhost" + addr
	}
	return addr
}

// openStore connects and migrates within the connect timeout, or until a signal; a failure
// names the variable to look at.
func openStore(ctx context.Context, c store.Config) (*store.Store, error) {
	st, err := store.Connect(ctx, c)
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
// holds sealed.
func openStoreWithKeys(ctx context.Context, c store.Config, keys [][]byte) (*store.Store, *security.Sealer, error) {
	sealer, err := security.NewSealer(keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", envSecretKey, err)
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if err := st.CheckSecretKey(ctx, sealer); err != nil {
		_ = st.Close()
		if errors.Is(err, store.ErrWrongSecretKey) {
			return nil, nil, fmt.Errorf("%s: %w: they were sealed with another key (another instance's, or one generated "+
				"into a data directory since lost); configure that key, after the new one if you are rotating", envSecretKey, err)
		}
		return nil, nil, fmt.Errorf("checking %s against the database: %w", envSecretKey, err)
	}
	return st, sealer, nil
}

// addAccount is `accounts add`: the password is read from stdin so it never shows in the
// process list or the shell history.
func addAccount(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("accounts add", flag.ContinueOnError)
	login := fs.String("login", "", "the account's login")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	hasBilling := fs.Bool("has-billing", false, "the partner bills this account itself (hasBilling)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *login == "" || !*passwordStdin {
		return errors.New("accounts add needs --login and --password-stdin")
	}
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
	id, err := st.AddAccount(ctx, store.NewAccount{Login: *login, PasswordHash: security.HashPassword(password), HasBilling: *hasBilling})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "account %d created (login %q)\n", id, *login)
	return nil
}

// rotateSecrets is `secrets rotate`: every stored cloud token and the key check value re-sealed
// with the first key of EVOTOR_PARTNER_SECRET_KEY, in one transaction. Run it once every
// instance runs with the new key first; then the old keys can go.
func rotateSecrets(ctx context.Context, stdout io.Writer) error {
	c, err := loadStoreConfig()
	if err != nil {
		return err
	}
	keys, _, err := loadSecretKeys(c)
	if err != nil {
		return err
	}
	st, sealer, err := openStoreWithKeys(ctx, c, keys)
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
