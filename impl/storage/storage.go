// Package storage persists accounts, tokens and accepted deliveries with GORM, on PostgreSQL
// (DATABASE_URL=postgres://…) or on an embedded pure-Go SQLite file. It is the adapter behind
// impl/deliver's Repository and UnitOfWork: it loads, locks and saves; the rules are passed in.
//
// One adapter with a dialect seam, not one per database, because most of it is the same on
// both: the models, the migrations (written once, translated for SQLite at start-up), every
// query but a few (about 2,300 lines). What differs is a test of the dialect (Store.OnPostgres,
// in five places) and each database's own fast path, in files of its own:
//   - PostgreSQL: receipts_batch.go and receipts_postgres.go (a batch of receipts deliveries in
//     one statement), catalogue_postgres.go (COPY for new products), monitor.go (a stalled
//     database answers 503 instead of hanging) — about 950 lines;
//   - SQLite: groupcommit.go (deliveries arriving together share one commit; a long catalogue
//     takes turns with the others) — about 360 lines.
//
// Two packages would each need the shared part, or a third package for it; the contract suite
// (tests/contract_suite_test.go) runs every rule on both databases, with forwarding off and on,
// whichever path a delivery takes.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/libtnb/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations
var migrations embed.FS

// Store is the database behind the server.
type Store struct {
	db       *gorm.DB
	dialect  goose.Dialect
	now      func() time.Time
	monitor  *monitor        // PostgreSQL only
	receipts *receiptBatcher // PostgreSQL only: group commit of receipts (receipts_batch.go)
	// committer commits concurrent deliveries together (SQLite only; groupcommit.go).
	committer *committer
	stats     statistics // PostgreSQL's planner statistics after a bulk load (statistics.go)
}

// genericPlans, a select-list item on PostgreSQL, has the rest of the transaction execute its
// prepared statements with the plan each connection made once. Statements taking arrays
// (`unnest($1::bigint[])`) are otherwise planned anew at every execution, because the generic
// plan's guess of 100 elements looks costlier than a plan for the actual few: in a soak,
// forwarding's attempts were planned 7,624 times in 8,339 executions, the planning costing more
// than the statement. Set only where every statement is a lookup by key: a range condition
// (retention's `< $1`) is better planned with its value.
const genericPlans = "set_config('plan_cache_mode', 'force_generic_plan', true)"

// SQLiteFile is the name of the embedded database file inside the data directory.
const SQLiteFile = "evotor-partner.db"

// Defaults of Config's timeouts.
const (
	DefaultTimeout        = 2 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// Config says where the database is and how long to wait for it.
type Config struct {
	DatabaseURL string // postgres://… or postgresql://…; empty: the SQLite file in DataDir
	DataDir     string
	// Timeout is how long PostgreSQL may go without answering, once started, before the
	// store's methods fail with apperr.Unavailable instead of waiting (see monitor.go).
	// Zero: DefaultTimeout. SQLite is local and has its own busy timeout.
	Timeout time.Duration
	// ConnectTimeout bounds start-up: the database's first answer and the migrations.
	// Zero: DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger hears when PostgreSQL stops and starts answering again. Nil: nothing is logged.
	Logger *slog.Logger
}

// Open is Connect with the default timeouts.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	return Connect(ctx, Config{DatabaseURL: databaseURL, DataDir: dataDir})
}

// Connect opens the database (PostgreSQL, or the SQLite file in DataDir, created on first
// use), waits for its first answer within the connect timeout, then applies the pending
// migrations; none of it for longer than ctx lives (a signal during start-up). Migrations are
// not bound by the connect timeout: a replica starting beside another waits its turn for the
// migration lock, which is no sign of a database that does not answer.
func Connect(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	s, err := open(cfg)
	if err != nil {
		return nil, err
	}
	answerCtx, cancel := context.WithTimeoutCause(ctx, cfg.ConnectTimeout,
		fmt.Errorf("the database did not answer within %s", cfg.ConnectTimeout))
	defer cancel()
	if err := s.awaitAnswer(answerCtx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if s.monitor != nil {
		s.monitor.start()
	}
	if s.OnPostgres() {
		s.startReceiptBatcher()
	}
	return s, nil
}

// open builds the store without talking to the database yet.
func open(cfg Config) (*Store, error) {
	s := &Store{now: func() time.Time { return time.Now().UTC() }}
	var dialector gorm.Dialector
	switch {
	case strings.HasPrefix(cfg.DatabaseURL, "postgres://"), strings.HasPrefix(cfg.DatabaseURL, "postgresql://"):
		pgConfig, err := pgx.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		verdicts := cfg.Logger
		if verdicts == nil {
			verdicts = slog.New(slog.DiscardHandler)
		}
		s.monitor = newMonitor(pgConfig, cfg.Timeout, verdicts)
		pgConfig.DialFunc = s.monitor.watch(pgConfig.DialFunc)
		if pgConfig.ConnectTimeout == 0 { // else connect_timeout in the URL wins
			pgConfig.ConnectTimeout = cfg.Timeout
		}
		pool := stdlib.OpenDB(*pgConfig, stdlib.OptionShouldPing(s.monitor.shouldPing))
		conns := &postgres.Dialector{Config: &postgres.Config{Conn: pool}}
		dialector, s.dialect = postgresDialector{conns}, goose.DialectPostgres
	case cfg.DatabaseURL == "":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		// cache_size: 32 MiB of pages (SQLite's default is 2 MB). A catalogue's transaction
		// spilled its dirty pages to the WAL mid-way, and every index insert into a database of a
		// gigabyte read its pages back through a system call: a fifth of a 10 MB catalogue's time.
		dsn := "file:" + filepath.Join(cfg.DataDir, SQLiteFile) +
			"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)&_pragma=cache_size(-32768)"
		dialector, s.dialect = sqlite.New(sqlite.Config{DriverName: sqliteDriverName, DSN: dsn}), goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("DATABASE_URL must start with postgres:// (or be unset for SQLite)")
	}
	// A fresh gorm.Config per Open: a shared one leaks the dialector between databases.
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		// No GORM statement cache: inside a transaction it prepares and closes every statement
		// (two extra round trips each). pgx already prepares each statement once per connection
		// and keeps it (QueryExecModeCacheStatement); SQLite prepares in process.
		PrepareStmt:          false,
		DisableAutomaticPing: true, // its Ping has no context: it would hang start-up (awaitAnswer instead)
		Logger:               logger.Discard,
		NowFunc:              func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if s.dialect == goose.DialectSQLite3 {
		sqlDB.SetMaxOpenConns(1) // SQLite has one writer; queueing here beats SQLITE_BUSY
		s.committer = newCommitter(s)
	} else {
		sqlDB.SetMaxOpenConns(32) // PostgreSQL: enough connections to share fsyncs
		sqlDB.SetMaxIdleConns(32)
	}
	return s, nil
}

// awaitAnswer pings until the database answers, so a database that starts together with the
// server gets until the connect timeout. A database that answers with an error (a wrong
// password, no such database) is not waited for.
func (s *Store) awaitAnswer(ctx context.Context) error {
	for {
		err := s.Ping(ctx)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pgErr):
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last attempt: %v", context.Cause(ctx), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	if s.dialect == goose.DialectSQLite3 {
		if fsys, err = sqliteMigrations(fsys); err != nil {
			return err
		}
	} else {
		// Several instances starting at once take turns.
		// Try for the lock every second, for five minutes (goose's default polls every 5 s).
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	provider, err := goose.NewProvider(s.dialect, sqlDB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	return nil
}

// sqliteTypes turns the PostgreSQL migrations into SQLite's dialect; they are written in the
// subset where column types are the only difference.
var sqliteTypes = strings.NewReplacer(
	"BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT",
	"BIGINT", "INTEGER",
	"BYTEA", "BLOB",
	"TIMESTAMPTZ", "DATETIME",
)

// postgresOnly ends the name of a migration that has no meaning on SQLite (a PostgreSQL function).
const postgresOnly = ".postgres.sql"

// sqliteMigrations are the migrations, every file translated for SQLite, in memory (a map
// file system: nothing written to disk at each start).
func sqliteMigrations(pg fs.FS) (fs.FS, error) {
	names, err := fs.Glob(pg, "*.sql")
	if err != nil {
		return nil, err
	}
	translated := fstest.MapFS{}
	for _, name := range names {
		b, err := fs.ReadFile(pg, name)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(name, postgresOnly) { // its version is applied, its statements are not
			b = []byte("-- +goose Up\nSELECT 1;\n")
		}
		translated[name] = &fstest.MapFile{Data: []byte(sqliteTypes.Replace(string(b))), Mode: 0o444}
	}
	return translated, nil
}

// Dialect names the database in use ("postgres" or "sqlite3").
func (s *Store) Dialect() string { return string(s.dialect) }

// OnPostgres reports whether the database is PostgreSQL (else the embedded SQLite file): the
// one test of the dialect, for the few statements that differ.
func (s *Store) OnPostgres() bool { return s.dialect == goose.DialectPostgres }

// SQLDB is the connection pool underneath, for what works on database/sql itself: the pool's
// metrics and the forwarding queue (River), which share it.
func (s *Store) SQLDB() (*sql.DB, error) { return s.db.DB() }

// sqlConn is one connection of the pool, for statements run on pgx itself.
func (s *Store) sqlConn(ctx context.Context) (*sql.Conn, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, s.translate(err)
	}
	return conn, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the connections.
func (s *Store) Close() error {
	if s.receipts != nil {
		s.receipts.close()
	}
	if s.monitor != nil && s.monitor.done != nil {
		s.monitor.close()
	}
	if s.committer != nil {
		s.committer.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
