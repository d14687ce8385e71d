package storage_test

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// TestScrapesAndPruningReadNoTableWhole: the database's own plans for what a metrics scrape
// and a pruning batch run. On SQLite no table is scanned but through a partial index; on
// PostgreSQL, with sequential scans priced out of reach, none is left (a statement that
// could not use its index would still scan: the plan would show it).
func TestScrapesAndPruningReadNoTableWhole(t *testing.T) {
	statements := map[string]string{}
	for name, q := range storage.ScrapeQueries {
		statements[name] = q
	}
	// Pruning's walks (retention.go), with their parameters written in.
	statements["prune messages"] = `SELECT id, created_at, delivered_at FROM forward_messages WHERE state = 'delivered' AND id > 0 ORDER BY id LIMIT 500`
	statements["prune inbox"] = `SELECT id, received_at FROM inbox WHERE id > 0 ORDER BY id LIMIT 500`
	statements["unreferenced inbox"] = `DELETE FROM inbox WHERE id IN (1, 2, 3)
		AND NOT EXISTS (SELECT 1 FROM forward_messages f WHERE f.inbox_id = inbox.id)
		AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.inbox_id = inbox.id)`
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t).DB
		statements := maps.Clone(statements)
		if b.Name == "sqlite" { // river_job is not created here (forward.New migrates it)
			statements["table sizes"] = storage.SQLiteSizesQuery(slices.DeleteFunc(slices.Clone(storage.SizedTables),
				func(t string) bool { return t == "river_job" }))
		}
		for name, q := range statements {
			plan := explain(t, db, b.Name, q)
			if bad := fullScan(b.Name, plan); bad != "" {
				t.Errorf("%s reads a table whole (%s):\n%s", name, bad, strings.Join(plan, "\n"))
			}
		}
	})
}

// explain is the database's plan for q. On PostgreSQL the plan is the one run (EXPLAIN
// ANALYZE, which also shows the subplans run), over a message and its inbox row, and rolled
// back.
func explain(t *testing.T, db *gorm.DB, backend, q string) []string {
	t.Helper()
	var plan []string
	err := db.Transaction(func(tx *gorm.DB) error {
		if backend == "sqlite" {
			var rows []struct{ Detail string }
			err := tx.Raw("EXPLAIN QUERY PLAN " + q).Scan(&rows).Error
			for _, r := range rows {
				plan = append(plan, r.Detail)
			}
			return err
		}
		for _, stmt := range []string{
			"SET LOCAL enable_seqscan = off",
			"INSERT INTO inbox (id, operation, path_params, received_at, body) VALUES (1, 'op', '{}', now(), '')",
			`INSERT INTO forward_messages (destination, evotor_user_id, seq, inbox_id, state, created_at)
				VALUES ('https://partner.example/', '', 1, 1, 'pending', now())`,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		if err := tx.Raw("EXPLAIN (ANALYZE) " + q).Scan(&plan).Error; err != nil {
			return err
		}
		return errRollBack
	})
	if err != nil && !errors.Is(err, errRollBack) {
		t.Fatalf("%v\n%s", err, q)
	}
	return plan
}

var errRollBack = errors.New("roll back")

// partialIndexes may be read whole: they hold what is waiting, not the history; so may
// forward_counts' key (16 rows per destination, whatever the history).
var partialIndexes = map[string]bool{"forward_messages_pending": true, "forward_messages_dead": true, "forward_messages_job": true,
	"forward_counts_pkey": true}

var sqliteScan = regexp.MustCompile(`^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?`)

// fullScan names the first step of the plan that reads a table, or a whole index but a
// partial one, from end to end.
func fullScan(backend string, plan []string) string {
	if backend != "sqlite" {
		return postgresFullScan(plan)
	}
	for _, step := range plan {
		m := sqliteScan.FindStringSubmatch(strings.TrimSpace(step))
		if m == nil || !tables[m[1]] {
			continue // a search by key, or a scan of a subquery's rows
		}
		if !partialIndexes[m[2]] {
			return step
		}
	}
	return ""
}

var postgresIndexScan = regexp.MustCompile(`(?:Index Scan|Index Only Scan) using (\w+)|Bitmap Index Scan on (\w+)`)

// postgresFullScan: a Seq Scan, or an index scan with no Index Cond (among the details below
// its line) on an index that is not partial.
func postgresFullScan(plan []string) string {
	for i, step := range plan {
		if strings.Contains(step, "Seq Scan") {
			return step
		}
		m := postgresIndexScan.FindStringSubmatch(step)
		if m == nil || partialIndexes[m[1]+m[2]] {
			continue
		}
		cond := false
		for _, detail := range plan[i+1:] {
			if strings.Contains(detail, "->") {
				break
			}
			cond = cond || strings.Contains(detail, "Index Cond:")
		}
		if !cond {
			return step
		}
	}
	return ""
}

var tables = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range storage.SizedTables {
		m[t] = true
	}
	m["f"], m["r"] = true, true // aliases in the statements above
	return m
}()
