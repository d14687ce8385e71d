package storage

// PostgreSQL advisory locks the store takes, each with its own number (goose's migration lock,
// which impl/forward also takes, is 4097083626).
const (
	// pruneLockID: one replica prunes at a time (retention.go).
	pruneLockID = 4097083627
	// sequencerLock: one replica numbers forwarding messages at a time (SequenceMessages), so
	// a message committed after another is numbered after it.
	sequencerLock = 4097083628
	// catalogueLockSeed: a store's products deliveries lock hashtextextended(store uuid, this
	// seed) (lockCatalogue); a collision with another number only makes two of them take turns.
	catalogueLockSeed = 4097083629
)
