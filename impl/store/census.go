package store

import "context"

// Census is how many installations, subscriptions and user tokens are in each state: what the
// metrics endpoint reports at scrape time.
type Census struct {
	Installations map[string]int64 // "installed", "uninstalled"
	Subscriptions map[string]int64 // by status (billing.Status…)
	TokensIssued  int64            // every user token ever issued (rows are never deleted)
	TokensRevoked int64            // of which revoked by an uninstall
}

// censusQuery counts all three in one round trip; each table has one row per installation,
// subscription or token, so it stays a scan of small rows.
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
