// Package storagetest opens throw-away databases for tests: SQLite always, PostgreSQL too when
// TEST_DATABASE_URL names a database it may create schemas in (each store gets a schema of its
// own, dropped afterwards). Each store comes with a second, separate connection for tests that
// look at rows directly, so the store itself exposes no database handle.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection that creates and drops schemas
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Backend is one kind of database a suite runs on.
type Backend struct {
	Name string
	open func(t testing.TB) (*storage.Store, gorm.Dialector)
}

// Opened is a fresh store and a separate connection to the same database.
type Opened struct {
	Store *storage.Store
	DB    *gorm.DB // for looking at rows; never used by the code under test
}

// Backends lists SQLite, and PostgreSQL when TEST_DATABASE_URL is set.
func Backends() []Backend {
	bs := []Backend{{Name: "sqlite", open: openSQLite}}
	if url := os.Getenv("TEST_DATABASE_URL"); url != "" {
		bs = append(bs, Backend{Name: "postgres", open: func(t testing.TB) (*storage.Store, gorm.Dialector) {
			return openPostgresSchema(t, url, suiteTimeout)
		}})
	}
	return bs
}

// PostgresAt is a PostgreSQL backend reached at the URL urlFor gives (through a test's proxy,
// say); each store still gets a schema of its own.
func PostgresAt(name string, urlFor func(t testing.TB) string) Backend {
	return Backend{Name: name, open: func(t testing.TB) (*storage.Store, gorm.Dialector) {
		return openPostgresSchema(t, urlFor(t), storage.DefaultTimeout)
	}}
}

// suiteTimeout is how long the suite's PostgreSQL stores let the database go unanswered before
// they call it down (storage.Config.Timeout). The suite runs many tests at once beside other
// packages on two cores, where a ping can wait a whole second for a CPU: with the default
// (2 s: down after one ping unanswered for 1 s) that false alarm failed a test now and then
// with 503s. PostgresAt keeps the default, for the tests of a database that stops answering.
const suiteTimeout = 10 * time.Second

// Each runs f once per backend, as a subtest.
func Each(t *testing.T, f func(t *testing.T, b Backend)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// Open opens a fresh database of this backend, closed (and dropped) when the test ends.
func (b Backend) Open(t testing.TB) Opened {
	st, dialector := b.open(t)
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return Opened{Store: st, DB: db}
}

// migratedSQLite is a SQLite database file with every migration applied, made once per test
// binary: a test's database starts as a copy of it (migrating each one was a quarter of the
// CPU of the tests that open a database per fixture). Open still runs the migrations on the
// copy, and finds nothing to do.
var migratedSQLite = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "storagetest-migrated")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := storage.Open(context.Background(), "", dir)
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil { // closing checkpoints the WAL into the file
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, storage.SQLiteFile))
})

func openSQLite(t testing.TB) (*storage.Store, gorm.Dialector) {
	dir := t.TempDir()
	migrated, err := migratedSQLite()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storage.SQLiteFile), migrated, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, sqlite.Open("file:" + filepath.Join(dir, storage.SQLiteFile) + "?_pragma=busy_timeout(5000)")
}

func openPostgresSchema(t testing.TB, url string, timeout time.Duration) (*storage.Store, gorm.Dialector) {
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	dsn := url + sep + "search_path=" + schema
	st, err := storage.Connect(context.Background(), storage.Config{DatabaseURL: dsn, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.Close()
		_, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	return st, postgres.Open(dsn)
}
