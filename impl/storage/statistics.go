package storage

import (
	"context"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// PostgreSQL plans by its statistics, which autovacuum refreshes about a minute after a table
// has changed by a tenth. Until then a store just filled by a catalogue looks empty to the
// planner: it reads a lookup of five of its products (owner, store and uuid = ANY) as "the
// store's products, filtered", a scan of the whole store, and a merchant's edits right after
// the first catalogue would cost what the store holds. So a delivery that wrote many new
// products asks for the statistics at once: ANALYZE in the background, after its commit (its
// rows are then visible), one at a time.

// analyzeCatalogue samples only the columns lookups plan on: the whole tables' statistics cost
// several times the CPU, competing with the deliveries that follow (a re-sent catalogue).
const analyzeCatalogue = `ANALYZE products (owner_id, store_uuid, uuid), product_barcodes (owner_id, store_uuid, product_uuid)`

// sampleSmall makes that ANALYZE sample 3,000 rows, not 30,000: what the lookups need is
// the store's rough size. Autovacuum's own ANALYZE, with the full sample, replaces these
// statistics once a tenth of the table has changed (on a table of many stores that may be
// long after; the plans the lookups need do not depend on the finer figures).
const sampleSmall = `SET LOCAL default_statistics_target = 10`

// bulkRows is how many new products make a delivery a bulk load.
const bulkRows = 1000

// statistics refreshes the catalogue's planner statistics on request (PostgreSQL).
type statistics struct {
	stale   atomic.Bool // a bulk load asked for fresh statistics
	running atomic.Bool
}

// bulkLoaded notes that a delivery wrote many new rows: fresh statistics after its commit.
func (s *Store) bulkLoaded() {
	if s.OnPostgres() {
		s.stats.stale.Store(true)
	}
}

// refreshStatistics runs ANALYZE of the catalogue's tables in the background when a delivery
// asked for it (called after each delivery's commit); requests made meanwhile get one more.
func (s *Store) refreshStatistics() {
	if !s.stats.stale.Load() || !s.stats.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.stats.running.Store(false)
		for s.stats.stale.CompareAndSwap(true, false) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec(sampleSmall).Error; err != nil {
					return err
				}
				return tx.Exec(analyzeCatalogue).Error
			})
			cancel()
			if err != nil {
				return // autovacuum will do it
			}
		}
	}()
}
