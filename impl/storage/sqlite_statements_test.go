package storage

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// The statement cache must be invisible: whatever is run through it, in whatever order, with
// rows left open while the same text runs again and statements pushed out while their rows are
// open, every answer is what SQLite without the cache gives (a map kept beside it here).

var cacheTestDriver atomic.Int64

// cachedDB opens a SQLite file through the caching driver, keeping at most statements each.
func cachedDB(t testing.TB, statements int) *sql.DB {
	name := fmt.Sprintf("%s-test-%d", sqliteDriverName, cacheTestDriver.Add(1))
	base, err := sql.Open("sqlite", "")
	if err != nil {
		t.Fatal(err)
	}
	sql.Register(name, sqliteDriver{base.Driver(), statements})
	db, err := sql.Open(name, "file:"+filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // as the store runs SQLite: one connection, every statement on it
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestCachedStatementsAnswerAsSQLite(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		db := cachedDB(t, rapid.IntRange(1, 4).Draw(rt, "statements"))
		ctx := context.Background()
		tx, err := db.BeginTx(ctx, nil) // one transaction: open rows and new statements share the connection
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		model := map[int]string{}
		// Several texts for one job, so a small cache evicts and the same text meets itself.
		get := func(_, shape int) string { return fmt.Sprintf("SELECT v FROM kv WHERE k = ? /* %d */", shape) }
		for i := range rapid.IntRange(1, 40).Draw(rt, "steps") {
			k := rapid.IntRange(0, 5).Draw(rt, "k")
			shape := rapid.IntRange(0, 3).Draw(rt, "shape")
			switch rapid.IntRange(0, 2).Draw(rt, "op") {
			case 0:
				v := fmt.Sprint(i)
				q := fmt.Sprintf("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v /* %d */", shape)
				if _, err := tx.Exec(q, k, v); err != nil {
					rt.Fatal(err)
				}
				model[k] = v
			case 1:
				checkValue(rt, tx, get(k, shape), k, model)
			case 2: // rows left open while the same text, and others, run
				checkListing(rt, tx, shape, model, func(rk int) {
					checkValue(rt, tx, get(rk, shape), rk, model)
					checkValue(rt, tx, get(k, (shape+1)%4), k, model)
					if rk == k {
						checkListing(rt, tx, shape, model, func(int) {})
					}
				})
			}
		}
	})
}

// checkListing lists the table with one of its texts, calling inside for each row while the
// rows are open.
func checkListing(t *rapid.T, tx *sql.Tx, shape int, model map[int]string, inside func(k int)) {
	rows, err := tx.Query(fmt.Sprintf("SELECT k, v FROM kv ORDER BY k /* %d */", shape))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]string{}
	for rows.Next() {
		var k int
		var v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		seen[k] = v
		inside(k)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(model) {
		t.Fatalf("listed %v, want %v", seen, model)
	}
}

func checkValue(t *rapid.T, tx *sql.Tx, query string, k int, model map[int]string) {
	var v string
	err := tx.QueryRow(query, k).Scan(&v)
	want, ok := model[k]
	switch {
	case !ok && err != sql.ErrNoRows:
		t.Fatalf("%d: got %q, %v; want no row", k, v, err)
	case ok && (err != nil || v != want):
		t.Fatalf("%d: got %q, %v; want %q", k, v, err, want)
	}
}

// One text runs from one prepared statement, and a schema change under it is seen.
func TestCachedStatementPreparedOnce(t *testing.T) {
	db := cachedDB(t, 8)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = "SELECT * FROM kv WHERE k = ?"
	stmtOf := func() (s *cachedStmt) {
		_ = conn.Raw(func(dc any) error {
			s, _ = dc.(*cachingConn).stmts.Peek(q)
			return nil
		})
		return s
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO kv VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	var k int
	var v string
	for range 3 {
		if err := conn.QueryRowContext(ctx, q, 1).Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
	}
	first := stmtOf()
	if first == nil {
		t.Fatal("the query was not kept prepared")
	}
	if _, err := conn.ExecContext(ctx, "ALTER TABLE kv ADD COLUMN w TEXT NOT NULL DEFAULT 'new'"); err != nil {
		t.Fatal(err)
	}
	var w string
	if err := conn.QueryRowContext(ctx, q, 1).Scan(&k, &v, &w); err != nil || w != "new" {
		t.Fatalf("after the schema changed: %q, %v", w, err)
	}
	if stmtOf() != first {
		t.Fatal("the statement was prepared again rather than reused")
	}
}
