package storage

import (
	"context"
	"fmt"
	"strings"
)

// Census is how many installations, subscriptions and user tokens are in each state: what the
// metrics endpoint reports at scrape time.
type Census struct {
	Installations map[string]int64 // "installed", "uninstalled"
	Subscriptions map[string]int64 // by status (billing.Status…)
	TokensIssued  int64            // every user token ever issued (rows are never deleted)
	TokensRevoked int64            // of which revoked by an uninstall
}

// censusQuery counts all three in one round trip. Each table has one row per installation,
// subscription or issued token: it grows with the partner's customers and their logins, not
// with deliveries, and the metrics read it at most once a minute (impl/metrics, census.go).
const censusQuery = `
SELECT 'installation' AS subject, CASE WHEN installed THEN 'installed' ELSE 'uninstalled' END AS state, COUNT(*) AS n
  FROM installations GROUP BY 2
UNION ALL
SELECT 'subscription', status, COUNT(*) FROM subscriptions GROUP BY 2
UNION ALL
SELECT 'token', CASE WHEN revoked_at IS NULL THEN 'unrevoked' ELSE 'revoked' END, COUNT(*) FROM user_tokens GROUP BY 2`

// Census counts installations, subscriptions and user tokens by state.
func (s *Store) Census(ctx context.Context) (Census, error) {
	var rows []struct {
		Subject, State string
		N              int64
	}
	if err := s.db.WithContext(ctx).Raw(censusQuery).Scan(&rows).Error; err != nil {
		return Census{}, err
	}
	c := Census{Installations: map[string]int64{}, Subscriptions: map[string]int64{}}
	for _, r := range rows {
		switch r.Subject {
		case "installation":
			c.Installations[r.State] = r.N
		case "subscription":
			c.Subscriptions[r.State] = r.N
		case "token":
			c.TokensIssued += r.N
			if r.State == "revoked" {
				c.TokensRevoked = r.N
			}
		}
	}
	return c, nil
}

// SizedTables are the tables whose sizes TableSizes estimates: ours (the domain, the inbox, the
// outbox) and the forwarding queue's jobs (river_job, River's, on the same database).
var SizedTables = []string{
	"inbox", "forward_messages", "forward_users", "river_job",
	"receipts", "receipt_items", "documents", "products", "product_barcodes", "stores", "devices", "employees",
	"subscription_events", "subscriptions", "installation_events", "installations",
	"evotor_users", "accounts", "user_tokens", "cloud_tokens",
}

// TableSizes estimates how many rows each of SizedTables holds (a table not created yet is
// left out), in time that does not grow with the tables: what the metrics report at every
// scrape, where a COUNT(*) would read every table whole each time.
//   - PostgreSQL: the statistics' live rows (pg_stat_get_live_tuples, what pg_stat_user_tables
//     shows as n_live_tup: kept up to date by every insert and delete, within a second or so),
//     or, when there are none yet (a statistics reset, a crash), the planner's reltuples from
//     the last VACUUM or ANALYZE. One catalog lookup per table.
//   - SQLite: the span of rowids, MAX(rowid) - MIN(rowid) + 1, two descents of the table's
//     b-tree (each a subquery of its own: SQLite answers a lone MIN or MAX from the b-tree's
//     edge, but scans for both at once). Exact while rows are added and deleted oldest first
//     (the inbox, the outbox under retention); an upper bound when rows in between go (a dead
//     message kept while delivered ones around it are pruned). SQLite keeps no row count, and
//     sqlite_stat1 would need an ANALYZE that reads every table.
func (s *Store) TableSizes(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Name string
		N    int64
	}
	db := s.db.WithContext(ctx)
	if s.OnPostgres() {
		err := db.Raw(`SELECT c.relname AS name,
			CASE WHEN pg_stat_get_live_tuples(c.oid) > 0 OR c.reltuples < 0 THEN pg_stat_get_live_tuples(c.oid)
			ELSE c.reltuples::bigint END AS n
			FROM pg_class c
			WHERE c.relnamespace = to_regnamespace(current_schema())::oid AND c.relkind IN ('r', 'p') AND c.relname IN ?`,
			SizedTables).Scan(&rows).Error
		if err != nil {
			return nil, err
		}
	} else {
		var present []string
		err := db.Raw(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ?`, SizedTables).Scan(&present).Error
		if err != nil || len(present) == 0 {
			return map[string]int64{}, err
		}
		if err := db.Raw(sqliteSizesQuery(present)).Scan(&rows).Error; err != nil {
			return nil, err
		}
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Name] = max(r.N, 0)
	}
	return out, nil
}

// sqliteSizesQuery is one statement estimating the tables' sizes on SQLite (names from
// SizedTables only, never user input).
func sqliteSizesQuery(tables []string) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		parts[i] = fmt.Sprintf(`SELECT '%[1]s' AS name, COALESCE((SELECT MAX(rowid) FROM "%[1]s") - (SELECT MIN(rowid) FROM "%[1]s") + 1, 0) AS n`, t)
	}
	return strings.Join(parts, " UNION ALL ")
}
