package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The bare baselines the goals are ratios of: echo, and one durable write of the body per
// receipt — nothing else (no authentication, no validation, no parsing). Each also answers
// user/create with a fixed token so that `evotor-cloud load` can drive it like our server.

// insertReceipt stores one receipt body under a new id.
type insertReceipt func(ctx context.Context, body []byte) error

const baselineUserToken = "baseline-user-token"

// baselineHandler is the echo server around insert.
func baselineHandler(insert insertReceipt) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.POST("/api/v2/receipts", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		if err := insert(c.Request().Context(), body); err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	})
	e.POST("/api/v1/user/create", func(c echo.Context) error {
		var u struct {
			UserID string `json:"userId"`
		}
		if err := c.Bind(&u); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"userId": u.UserID, "token": baselineUserToken})
	})
	return e
}

// pgxBaseline: a pgx pool of 32 connections, one INSERT per receipt, PostgreSQL's durable
// defaults (synchronous_commit on). The body is bytea, as our inbox keeps it.
func pgxBaseline(ctx context.Context, databaseURL string) (insertReceipt, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_receipts (id uuid PRIMARY KEY, body bytea NOT NULL)`); err != nil {
		pool.Close()
		return nil, err
	}
	return func(ctx context.Context, body []byte) error {
		_, err := pool.Exec(ctx, `INSERT INTO bench_receipts(id, body) VALUES ($1, $2)`, uuid.New(), body)
		return err
	}, nil
}

// benchReceipt is the SQLite baseline's row.
type benchReceipt struct {
	ID   string `gorm:"primaryKey"`
	Body []byte
}

// sqliteDSN has the pragmas the product opens its SQLite file with (impl/storage).
const sqliteDSN = "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)"

// gormSQLiteBaseline: GORM's Create with its defaults on a SQLite file with the product's
// pragmas and, like the product, one connection (SQLite has one writer).
func gormSQLiteBaseline(dir string) (insertReceipt, error) {
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(dir, "baseline.db")+sqliteDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	if err := db.AutoMigrate(&benchReceipt{}); err != nil {
		return nil, err
	}
	return func(ctx context.Context, body []byte) error {
		return db.WithContext(ctx).Create(&benchReceipt{ID: uuid.NewString(), Body: body}).Error
	}, nil
}

// runBaseline is the `baseline` mode of this program: the harness starts it as a child
// process, as it starts our server, so that both are measured the same way.
func runBaseline(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	databaseURL := fs.String("database-url", "", "PostgreSQL URL: the echo+pgx baseline")
	sqliteDir := fs.String("sqlite-dir", "", "directory of the SQLite file: the echo+GORM baseline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	var insert insertReceipt
	var err error
	switch {
	case *databaseURL != "" && *sqliteDir == "":
		insert, err = pgxBaseline(ctx, *databaseURL)
	case *sqliteDir != "" && *databaseURL == "":
		insert, err = gormSQLiteBaseline(*sqliteDir)
	default:
		return errors.New("baseline: one of --database-url and --sqlite-dir")
	}
	if err != nil {
		return err
	}
	// The harness ends this process with SIGTERM: nothing to shut down gracefully, every
	// answered receipt is committed.
	srv := &http.Server{Addr: *addr, Handler: baselineHandler(insert), ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}
