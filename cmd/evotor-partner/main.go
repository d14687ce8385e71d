// Command evotor-partner is the server Evotor Cloud calls: `serve` (the default) runs it,
// `accounts add` creates a partner account before any Evotor user exists.
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
Configuration comes from the environment (see README.md).`

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 0 || args[0] == "serve":
		err = serve()
	case len(args) >= 2 && args[0] == "accounts" && args[1] == "add":
		err = addAccount(args[2:], os.Stdin, os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "evotor-partner:", err)
		os.Exit(1)
	}
}

func serve() error {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	for _, note := range cfg.notes {
		logger.Info(note)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
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
	sealer, err := security.NewSealer(cfg.SecretKey)
	if err != nil {
		return err
	}
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
	logger.Info("serving", "url", "http://"+displayAddr(cfg.Addr), "database", st.Dialect(),
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

// addAccount is `accounts add`: the password is read from stdin so it never shows in the
// process list or the shell history.
func addAccount(args []string, stdin io.Reader, stdout io.Writer) error {
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
	dataDir := env(envDataDir, "./data")
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(envDatabaseURL), dataDir)
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
