package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/forward"
	"github.com/evotor-partner/evotor-partner/impl/logging"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// config is read from the environment only; every variable is prefixed EVOTOR_PARTNER_ except
// DATABASE_URL. README.md's configuration table lists them.
type config struct {
	Addr       string
	LogLevel   slog.Level     // EVOTOR_PARTNER_LOG_LEVEL
	Store      storage.Config // DATABASE_URL, the data directory, the database timeouts
	App        security.AppCredentials
	SecretKeys [][]byte // the first seals, all open
	BodyLimit  int64
	BodyBudget int64
	TokenGrace time.Duration
	RequireSub bool // EVOTOR_PARTNER_REQUIRE_ACTIVE_SUBSCRIPTION
	AdminToken string
	DevToken   bool // no app credential was configured; a development token is in use
	notes      []string

	MetricsAddr string         // EVOTOR_PARTNER_METRICS_ADDR (metrics.go); empty: no metrics
	Profiling   bool           // EVOTOR_PARTNER_PPROF: Go's profiles beside the metrics
	Forward     forward.Config // EVOTOR_PARTNER_FORWARD_*: where accepted deliveries are forwarded
	Retention   time.Duration  // EVOTOR_PARTNER_RETENTION (retention.go); 0: keep everything
	Sync        syncConfig     // EVOTOR_PARTNER_EVOTOR_API_URL, EVOTOR_PARTNER_SYNC_INTERVAL (sync.go)
}

const (
	envAddr          = "EVOTOR_PARTNER_ADDR"
	envLogLevel      = "EVOTOR_PARTNER_LOG_LEVEL"
	envDataDir       = "EVOTOR_PARTNER_DATA_DIR"
	envDatabaseURL   = "DATABASE_URL"
	envAppToken      = "EVOTOR_PARTNER_APP_TOKEN"
	envBasicUser     = "EVOTOR_PARTNER_APP_BASIC_USER"
	envBasicPassword = "EVOTOR_PARTNER_APP_BASIC_PASSWORD"
	envSecretKey     = "EVOTOR_PARTNER_SECRET_KEY"
	envBodyLimit     = "EVOTOR_PARTNER_BODY_LIMIT"
	envBodyBudget    = "EVOTOR_PARTNER_BODY_BUDGET"
	envDevAppToken   = "EVOTOR_PARTNER_DEV_APP_TOKEN"
	envTokenGrace    = "EVOTOR_PARTNER_TOKEN_GRACE"
	envRequireSub    = "EVOTOR_PARTNER_REQUIRE_ACTIVE_SUBSCRIPTION"
	envAdminToken    = "EVOTOR_PARTNER_ADMIN_TOKEN"
	envForwardURL    = "EVOTOR_PARTNER_FORWARD_URL"
	envForwardSecret = "EVOTOR_PARTNER_FORWARD_SECRET"
	envForwardRescue = "EVOTOR_PARTNER_FORWARD_RESCUE_AFTER"
	// envForwardAllowHTTP lets forwarding use http:// to a host that is not this machine.
	envForwardAllowHTTP = "EVOTOR_PARTNER_FORWARD_ALLOW_HTTP"
	envDBTimeout        = "EVOTOR_PARTNER_DB_TIMEOUT"
	envDBConnect        = "EVOTOR_PARTNER_DB_CONNECT_TIMEOUT"
	envPprof            = "EVOTOR_PARTNER_PPROF"

	secretKeyFile   = "secret.key"
	devAppTokenFile = "dev-app-token"
)

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// loadConfig reads and checks the environment for serve; an error names the variable at fault.
func loadConfig() (config, error) {
	c := config{
		Addr:        env(envAddr, ":8080"),
		BodyLimit:   impl.DefaultBodyLimit,
		BodyBudget:  impl.DefaultBodyBudget,
		TokenGrace:  72 * time.Hour,
		MetricsAddr: metricsAddr(),
		App: security.AppCredentials{
			BasicUser:     os.Getenv(envBasicUser),
			BasicPassword: os.Getenv(envBasicPassword),
		},
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("%s: want host:port such as :8080 or 127.0.0.1:8080, got %q", envAddr, c.Addr)
	}
	var err error
	if c.LogLevel, err = logging.ParseLevel(env(envLogLevel, "info")); err != nil {
		return c, fmt.Errorf("%s: %w", envLogLevel, err)
	}
	if c.Store, err = loadStoreConfig(); err != nil {
		return c, err
	}
	for _, t := range strings.Split(os.Getenv(envAppToken), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.App.Tokens = append(c.App.Tokens, t)
		}
	}
	for _, b := range []struct {
		name string
		into *int64
	}{{envBodyLimit, &c.BodyLimit}, {envBodyBudget, &c.BodyBudget}} {
		if v := os.Getenv(b.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return c, fmt.Errorf("%s: want a number of bytes ≥ 1024, got %q", b.name, v)
			}
			*b.into = n
		}
	}
	if v := os.Getenv(envTokenGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("%s: want a duration such as 72h, got %q", envTokenGrace, v)
		}
		c.TokenGrace = d
	}
	if c.Profiling, err = boolEnv(envPprof); err != nil {
		return c, err
	}
	if c.RequireSub, err = boolEnv(envRequireSub); err != nil {
		return c, err
	}
	if c.AdminToken = os.Getenv(envAdminToken); c.AdminToken != "" && len(c.AdminToken) < 16 {
		return c, fmt.Errorf("%s: want at least 16 characters", envAdminToken)
	}
	if err := c.forwarding(); err != nil {
		return c, err
	}
	if c.Retention, err = retention(); err != nil {
		return c, err
	}
	if c.Sync, err = loadSyncConfig(); err != nil {
		return c, err
	}
	if len(c.App.Tokens) == 0 && c.App.BasicUser == "" && c.App.BasicPassword == "" && env(envDevAppToken, "") == "1" {
		if err := c.useDevAppToken(); err != nil {
			return c, err
		}
	}
	if err := c.App.Check(); err != nil {
		return c, fmt.Errorf("%s / %s / %s: %w", envAppToken, envBasicUser, envBasicPassword, err)
	}
	keys, note, err := loadSecretKeys(c.Store)
	if err != nil {
		return c, err
	}
	c.SecretKeys = keys
	if note != "" {
		c.notes = append(c.notes, note)
	}
	return c, nil
}

// loadStoreConfig is what every command needs to reach the database. With SQLite, the data
// directory must be writable.
func loadStoreConfig() (storage.Config, error) {
	c := storage.Config{DatabaseURL: os.Getenv(envDatabaseURL), DataDir: env(envDataDir, "./data")}
	if c.DatabaseURL == "" {
		if err := checkWritableDir(c.DataDir); err != nil {
			return c, fmt.Errorf("%s: the SQLite database's directory (%s unset): %w", envDataDir, envDatabaseURL, err)
		}
	}
	var err error
	// Evotor gives up after 10 s: a 503 after that would come too late to matter.
	if c.Timeout, err = durationEnv(envDBTimeout, storage.DefaultTimeout, 500*time.Millisecond, 9*time.Second); err != nil {
		return c, err
	}
	if c.ConnectTimeout, err = durationEnv(envDBConnect, storage.DefaultConnectTimeout, time.Second, time.Hour); err != nil {
		return c, err
	}
	return c, nil
}

// checkWritableDir creates dir when absent and a file in it, then removes the file: SQLite
// would otherwise fail later with a message that names neither ("out of memory (14)").
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// durationEnv reads a duration between min and max.
func durationEnv(name string, def, min, max time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		return 0, fmt.Errorf("%s: want a duration from %s to %s such as %s, got %q", name, min, max, def, v)
	}
	return d, nil
}

// loadSecretKeys is EVOTOR_PARTNER_SECRET_KEY: comma-separated keys of 64 hex characters, the
// first sealing and all opening. Unset, SQLite keeps a key generated once into the data
// directory; PostgreSQL refuses, because the instances sharing the database must share the key
// (a generated one would be one instance's, or one volume's, alone). note says where the key
// comes from.
func loadSecretKeys(db storage.Config) (keys [][]byte, note string, err error) {
	if v := os.Getenv(envSecretKey); v != "" {
		for i, hexKey := range strings.Split(v, ",") {
			key, err := hex.DecodeString(strings.TrimSpace(hexKey))
			if err != nil || len(key) != sealer.SecretKeySize {
				return nil, "", fmt.Errorf("%s: key %d: want %d hex characters (comma-separated keys, the first sealing)",
					envSecretKey, i+1, 2*sealer.SecretKeySize)
			}
			keys = append(keys, key)
		}
		return keys, "", nil
	}
	if db.DatabaseURL != "" {
		return nil, "", fmt.Errorf("%s is required with %s: every instance sharing the database must seal and open the "+
			"stored cloud tokens with the same key, which a key generated into one data directory is not "+
			"(generate one with: openssl rand -hex 32)", envSecretKey, envDatabaseURL)
	}
	key, note, err := generatedSecretKey(db.DataDir)
	if err != nil {
		return nil, "", err
	}
	return [][]byte{key}, note, nil
}

// generatedSecretKey is the key kept in the data directory (SQLite), created on first use.
func generatedSecretKey(dataDir string) ([]byte, string, error) {
	path := filepath.Join(dataDir, secretKeyFile)
	created, err := readOrCreate(path, func() string {
		b := make([]byte, sealer.SecretKeySize)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s unset and %s: %w", envSecretKey, path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(created.value))
	if err != nil || len(key) != sealer.SecretKeySize {
		return nil, "", fmt.Errorf("%s: not %d hex-encoded bytes", path, sealer.SecretKeySize)
	}
	if created.isNew {
		return key, "generated a secret key into " + path + "; back it up, or set " + envSecretKey, nil
	}
	return key, "using the secret key in " + path + " (" + envSecretKey + " unset)", nil
}

// useDevAppToken (EVOTOR_PARTNER_DEV_APP_TOKEN=1, as `make run` sets) keeps a development app
// token in the data directory so a first run works without configuration.
func (c *config) useDevAppToken() error {
	path := filepath.Join(c.Store.DataDir, devAppTokenFile)
	got, err := readOrCreate(path, func() string { return uuid.NewString() })
	if err != nil {
		return fmt.Errorf("%s=1 keeps its token in %s: %w", envDevAppToken, envDataDir, err)
	}
	c.App.Tokens = []string{strings.TrimSpace(got.value)}
	c.DevToken = true
	if got.isNew {
		// Shown once, on the terminal only (not in the log): it is a credential.
		fmt.Fprintf(os.Stderr, "\nDevelopment app token (kept in %s):\n\n    Authorization: Bearer %s\n\n", path, c.App.Tokens[0])
	}
	return nil
}

type fileValue struct {
	value string
	isNew bool
}

// readOrCreate returns the file's content, creating it (mode 0600) with gen() when absent.
func readOrCreate(path string, gen func() string) (fileValue, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return fileValue{value: string(b)}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fileValue{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fileValue{}, err
	}
	v := gen()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileValue{}, err
	}
	defer f.Close()
	if _, err := f.WriteString(v + "\n"); err != nil {
		return fileValue{}, err
	}
	return fileValue{value: v, isNew: true}, nil
}

// forwarding reads the destinations accepted deliveries are forwarded to (none: forwarding off).
// boolEnv reads a true/false variable; unset is false.
func boolEnv(name string) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %q", name, v)
	}
	return b, nil
}

func (c *config) forwarding() error {
	allowHTTP, err := boolEnv(envForwardAllowHTTP)
	if err != nil {
		return err
	}
	dests, err := forward.ParseDestinations(os.Getenv(envForwardURL), os.Getenv(envForwardSecret), allowHTTP)
	if err != nil {
		return fmt.Errorf("%s / %s: %w", envForwardURL, envForwardSecret, err)
	}
	c.Forward = forward.Config{Destinations: dests, DatabaseURL: c.Store.DatabaseURL}
	if v := os.Getenv(envForwardRescue); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 15*time.Second {
			return fmt.Errorf("%s: want a duration of at least 15s, got %q", envForwardRescue, v)
		}
		c.Forward.RescueAfter = d
	}
	return nil
}
