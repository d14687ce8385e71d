// Package store persists accounts, tokens and accepted deliveries with GORM, on PostgreSQL
// (DATABASE_URL=postgres://…) or on an embedded pure-Go SQLite file.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
	"time"

	"github.com/glebarez/sqlite"
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
	db      *gorm.DB
	dialect goose.Dialect
	now     func() time.Time
	forward *forwarding // where Accept forwards deliveries (outbox.go); nil: nowhere
}

// SQLiteFile is the name of the embedded database file inside the data directory.
const SQLiteFile = "evotor-partner.db"

// Open connects to databaseURL (postgres:// or postgresql://), or, when it is empty, to the
// SQLite file in dataDir (created on first use), and applies the pending migrations.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	var dialector gorm.Dialector
	var dialect goose.Dialect
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		dialector, dialect = postgres.Open(databaseURL), goose.DialectPostgres
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		dsn := "file:" + filepath.Join(dataDir, SQLiteFile) +
			"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)"
		dialector, dialect = sqlite.Open(dsn), goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("DATABASE_URL must start with postgres:// (or be unset for SQLite)")
	}
	// A fresh gorm.Config per Open: a shared one leaks the dialector between databases.
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == goose.DialectSQLite3 {
		sqlDB.SetMaxOpenConns(1) // SQLite has one writer; queueing here beats SQLITE_BUSY
	} else {
		sqlDB.SetMaxOpenConns(32) // PostgreSQL: enough connections to share fsyncs
		sqlDB.SetMaxIdleConns(32)
	}
	s := &Store{db: db, dialect: dialect, now: func() time.Time { return time.Now().UTC() }}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
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
		locker, err := lock.NewPostgresSessionLocker()
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

// sqliteMigrations is the migrations directory with every file translated for SQLite.
func sqliteMigrations(pg fs.FS) (fs.FS, error) {
	names, err := fs.Glob(pg, "*.sql")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{} // an in-memory fs.FS (testing/fstest has the standard one)
	for _, name := range names {
		b, err := fs.ReadFile(pg, name)
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: []byte(sqliteTypes.Replace(string(b))), Mode: 0o444}
	}
	return out, nil
}

// Dialect names the database in use ("postgres" or "sqlite3").
func (s *Store) Dialect() string { return string(s.dialect) }

// DB exposes the connection to tests that inspect rows directly.
func (s *Store) DB() *gorm.DB { return s.db }

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
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
