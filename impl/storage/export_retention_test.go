package storage

// ScrapeQueries are the statements a metrics scrape runs about forwarding, for the plan tests.
var ScrapeQueries = map[string]string{
	"destinations": destinationsQuery,
	"pending":      pendingQuery,
	"dead":         deadQuery,
}

// SQLiteSizesQuery is the statement that estimates the tables' sizes on SQLite.
var SQLiteSizesQuery = sqliteSizesQuery
