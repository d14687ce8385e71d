package main

import (
	"context"
	"net/url"

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

// settings describes the server: its version and whether commits are durable.
func (pg postgres) settings(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var version, fsync, syncCommit string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')`).
		Scan(&version, &fsync, &syncCommit)
	return "PostgreSQL " + version + " (fsync " + fsync + ", synchronous_commit " + syncCommit + ")", err
}
