package storage

// ReceiptBatches is how many receipts statements ran and for how many deliveries (PostgreSQL;
// 0, 0 on SQLite).
func (s *Store) ReceiptBatches() (batches, deliveries int64) {
	if s.receipts == nil {
		return 0, 0
	}
	return s.receipts.batches.Load(), s.receipts.delivered.Load()
}
