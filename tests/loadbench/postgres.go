package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
)

// postgres is the throw-away server `.ci/with-postgres` started (TEST_DATABASE_URL); every
// target gets a database of its own in it.
type postgres struct {
	url string
}

// freshDatabase (re)creates database name and returns its URL.
func (pg postgres) freshDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	quoted := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+quoted); err != nil {
		return "", err
	}
	u, err := url.Parse(pg.url)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// settings describes the server: its version, whether commits are durable, and the settings
// that decide how much the WAL writes.
func (pg postgres) settings(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var version, fsync, syncCommit, walCompression, shared, maxWAL string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'),
		current_setting('wal_compression'), current_setting('shared_buffers'), current_setting('max_wal_size')`).
		Scan(&version, &fsync, &syncCommit, &walCompression, &shared, &maxWAL)
	return "PostgreSQL " + version + " (fsync " + fsync + ", synchronous_commit " + syncCommit + ", wal_compression " + walCompression +
		", shared_buffers " + shared + ", max_wal_size " + maxWAL + ")", err
}

// warmSegments is how many WAL segments warmWAL leaves recycled: 1 GiB (PostgreSQL's default
// max_wal_size, the most a checkpoint keeps), twice what a whole `make bench-load` writes.
const warmSegments = 64

// warmWAL makes a fresh cluster's WAL look like a long-running server's. A cluster just made
// by initdb has no recycled segments, so every 16 MB of WAL makes the committing backend create
// and zero-fill a new segment file, holding the WAL write lock: each commit on the server waits
// 50–200 ms for it on this machine's disk, a stall that a server past its first checkpoints
// never has (it renames a finished segment instead). Switching segments warmSegments times and
// then checkpointing leaves that many recycled for the measured runs. It needs a superuser
// (the throw-away server's postgres); on any error the runs go ahead on the cold cluster and
// the report says so.
func (pg postgres) warmWAL(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	for range warmSegments {
		// a record first: pg_switch_wal does nothing in a segment nothing was written to
		if _, err := conn.Exec(ctx, `SELECT pg_logical_emit_message(false, 'loadbench', 'warm'), pg_switch_wal()`); err != nil {
			return "", err
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return "", err
	}
	return fmt.Sprintf("WAL warmed: %d segments switched, then CHECKPOINT", warmSegments), nil
}

// keepPostgresLog copies the server's own log into dir as postgres-server.log, when
// .ci/with-postgres said where it is (from): the server and its log are removed when the soak
// ends, and its checkpoints, autovacuum passes and lock waits (make soak logs them) are what a
// slow minute is matched with.
func keepPostgresLog(from, dir string) {
	if from == "" {
		return
	}
	log, err := os.ReadFile(from) // megabytes at most: a throw-away server's one run
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "postgres-server.log"), log, 0o644)
	}
	if err != nil {
		progress("PostgreSQL's own log not kept: " + err.Error())
	}
}
