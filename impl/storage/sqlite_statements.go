package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	_ "modernc.org/sqlite" // registers "sqlite", which sqliteDriver wraps
)

// SQLite connections that keep their statements prepared. modernc.org/sqlite parses every
// statement database/sql hands a connection (Exec and Query prepare, run and finalize), and
// GORM's own statement cache re-prepares inside every transaction: on the soak, parsing was a
// sixth of the server's CPU, all of it on SQLite's one connection, where every request queues.
// Here each connection keeps its last sqliteStatements statements by their text, prepared
// once; SQLite re-prepares one by itself when the schema changes under it.

// sqliteDriverName is the driver the store opens SQLite with: modernc's, caching statements.
const sqliteDriverName = "sqlite-cached-statements"

// sqliteStatements is how many statements one connection keeps: every shape the server runs
// fits, while a one-off text (an IN list of a new length) only pushes out the oldest.
const sqliteStatements = 512

func init() {
	db, err := sql.Open("sqlite", "") // no connection yet: only the registered driver
	if err != nil {
		panic(err)
	}
	sql.Register(sqliteDriverName, sqliteDriver{db.Driver(), sqliteStatements})
	_ = db.Close()
}

type sqliteDriver struct {
	driver.Driver
	statements int // kept per connection
}

func (d sqliteDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	conn, ok := c.(sqliteConn)
	if !ok { // not modernc's connection as this file knows it: used as it is, uncached
		return c, nil
	}
	cached := &cachingConn{sqliteConn: conn}
	cached.stmts, _ = simplelru.NewLRU(d.statements, func(_ string, s *cachedStmt) { s.evict() })
	return cached, nil
}

// sqliteConn is what modernc's connection offers and database/sql looks for.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn runs Exec and Query through its prepared statements. database/sql uses a
// connection from one goroutine at a time, so the cache needs no lock of its own.
type cachingConn struct {
	sqliteConn
	stmts *simplelru.LRU[string, *cachedStmt]
}

type cachedStmt struct {
	driver.Stmt
	busy    bool // its rows are open: a second query of the same text prepares its own
	evicted bool // pushed out while busy: closed when its rows close
}

func (s *cachedStmt) evict() {
	s.evicted = true
	if !s.busy {
		_ = s.Close()
	}
}

// statement is query's prepared statement, nil when it is busy (the caller runs the text
// uncached). A text that fails to prepare fails the same way run uncached: its error is final.
func (c *cachingConn) statement(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts.Get(query); ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{Stmt: st}
	c.stmts.Add(query, s)
	return s, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.statement(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	sr, ok := rows.(sqliteRows)
	if !ok { // modernc's rows offer them all: a newer driver that does not is caught by the tests
		_ = rows.Close()
		return nil, fmt.Errorf("sqlite: rows of type %T lack column types", rows)
	}
	s.busy = true
	return &cachedRows{sqliteRows: sr, stmt: s}, nil
}

func (c *cachingConn) Close() error {
	c.stmts.Purge() // finalizes every statement (none is busy once the connection closes)
	return c.sqliteConn.Close()
}

// sqliteRows is what modernc's rows offer (database/sql's ColumnTypes reads them).
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows gives its statement back when closed (modernc resets it for the next query).
type cachedRows struct {
	sqliteRows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.sqliteRows.Close()
	r.stmt.busy = false
	if r.stmt.evicted {
		_ = r.stmt.Close()
	}
	return err
}
