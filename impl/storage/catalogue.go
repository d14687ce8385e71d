package storage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"time"

	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// ProductRow is a product or group of one store of one owner.
type ProductRow struct {
	OwnerID                string `gorm:"primaryKey"`
	StoreUUID              string `gorm:"primaryKey"`
	UUID                   string `gorm:"primaryKey;column:uuid"`
	ParentUUID             *string
	IsGroup                bool
	HasVariants            *bool
	Type                   *string
	Name                   string
	Code                   *string
	BarCodes               *string // JSON array
	AlcoCodes              *string // JSON array
	Price                  *string
	Quantity               *string
	CostPrice              *string
	MeasureName            *string
	Tax                    *string
	AllowToSell            *bool
	ArticleNumber          *string
	AlcoholByVolume        *string
	AlcoholProductKindCode *string
	TareVolume             *string
	Raw                    []byte
	RawHash                []byte
	UpdatedAt              time.Time
	MissingSince           *time.Time
}

func (ProductRow) TableName() string { return "products" }

// ProductBarcode indexes a product by one of its barcodes.
type ProductBarcode struct {
	OwnerID     string `gorm:"primaryKey"`
	StoreUUID   string `gorm:"primaryKey"`
	ProductUUID string `gorm:"primaryKey"`
	Barcode     string `gorm:"primaryKey"`
}

// productColumns are what a later delivery of a product replaces.
var productColumns = []string{"raw_hash", "parent_uuid", "is_group", "has_variants", "type", "name", "code", "bar_codes",
	"alco_codes", "price", "quantity", "cost_price", "measure_name", "tax", "allow_to_sell", "article_number",
	"alcohol_by_volume", "alcohol_product_kind_code", "tare_volume"}

// productBatchRows is how many products are looked up and written at a time: a catalogue is
// written as it is read, never held whole. (A variable: tests make batches small.)
var productBatchRows = 1000

// UpsertProducts writes a store's products: each raw item of items (a slice of the body, not a
// copy) that differs from what is stored is made a row by row (Raw: the item) and written, a
// batch at a time, and the barcodes of those written re-indexed. A uuid sent twice is stored as
// sent last.
//
// Its cost is its own items', whatever the store holds: the items of a batch are looked up by
// their uuids (the primary key), so Evotor's small notifications (a merchant edited a product)
// stay small in a store of 25,000, and an item whose bytes hash to what is stored is not
// written. A re-sent catalogue (its first batch found stored as it is) reads the store's
// hashes once instead and skips an unchanged item before it is even made a row. Into an
// empty store nothing is looked up.
//
// Products are keyed by (owner, store, uuid), so no owner check can apply to them: what
// protects a catalogue is the store claim, which must come first (ClaimStores) and fails when
// the store is another user's.
//
// On SQLite a catalogue yields between batches of yieldRows products when other deliveries
// wait (groupcommit.go): before its first part commits, it binds the items not written yet,
// so that one refused half-way leaves nothing stored. Of the deliveries let in, other
// catalogues go after it; the products of its store that the others write are newer than its
// own, and it does not write them over.
func (tx *Tx) UpsertProducts(owner, storeUUID string, items [][]byte, row func(raw []byte) (ProductRow, error)) error {
	c := tx.store.committer
	if c != nil && c.mustWait(len(items)) {
		return errCatalogueBusy // a catalogue yielded to us: we go after it
	}
	small := tx.store.OnPostgres() && len(items) <= min(smallDeliveryItems, productBatchRows)
	var lock *statement // a small delivery's lock, sent with its write (it looks nothing up before)
	if small && tx.conn != nil {
		lock = catalogueLock(storeUUID, true)
	} else if err := tx.lockCatalogue(storeUUID, small); err != nil {
		return err
	}
	empty := false
	if !small {
		var err error
		if empty, err = tx.storeEmpty(owner, storeUUID); err != nil {
			return err
		}
	}
	b := productBatch{tx: tx, owner: owner, store: storeUUID, empty: empty, small: small, lock: lock, items: len(items),
		row: row, written: map[string]rawHash{}, at: map[string]int{}}
	b.letIn = c != nil && c.busyStore == storeUUID
	defer b.wait() // no write may outlive the call (the transaction ends after it)
	readRows := productBatchRows
	if tx.yield != nil {
		readRows = min(readRows, yieldRows)
	}
	read := make([]readItem, 0, readRows)
	for i, raw := range items {
		read = append(read, readItem{raw: raw, sum: sha256.Sum256(raw)})
		if len(read) == readRows {
			if err := b.addRead(read); err != nil {
				return err
			}
			read = read[:0]
			if err := b.letOthersIn(items[i+1:]); err != nil {
				return err
			}
		}
	}
	if err := b.addRead(read); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	if b.fresh >= bulkRows {
		tx.store.bulkLoaded()
	}
	if err := b.wait(); err != nil {
		return err
	}
	if b.letIn {
		c.overtake(storeUUID, b.covered)
	}
	return nil
}

type rawHash = [sha256.Size]byte

// hashOf is a stored raw_hash as a map key.
func hashOf(stored []byte) (h rawHash) {
	copy(h[:], stored)
	return h
}

// readItem is an item as read from the body, with its bytes' hash.
type readItem struct {
	raw []byte
	sum rawHash
}

// productBatch gathers the changed products until a batch is full.
type productBatch struct {
	tx           *Tx
	owner, store string
	empty        bool       // the store held no product when the delivery began
	small        bool       // a small delivery (PostgreSQL): nothing looked up, every row written by upsert
	lock         *statement // the catalogue lock the first write takes, if not taken yet
	items        int        // how many items the delivery carries
	// A catalogue on SQLite, between its turns (letOthersIn): the products that deliveries let
	// in wrote, newer than its own (nil until there are some). A delivery let in during its own store's catalogue's turn
	// (letIn) gives the products it covers (covered).
	overtaken map[string]bool
	letIn     bool
	covered   []string
	row       func(raw []byte) (ProductRow, error)
	written   map[string]rawHash // uuid → the hash this delivery gave it
	rows      []ProductRow
	replaces  []bool         // rows[i] replaces a stored product (its old barcodes go)
	at        map[string]int // uuid -> index in rows
	writing   chan error     // the batch being written, if any
	fresh     int            // products new to the store
	// A re-sent catalogue: once the batches looked up find most of their items stored as they
	// are, the store's hashes are read at once (if the store is not too large) instead of a
	// lookup per batch.
	looked, found int                // items looked up a batch at a time, and of them found stored as they are
	whole         map[rawHash]string // the store's hashes, read once; nil: looked up per batch
	wholeUUIDs    map[string]bool    // the uuids of whole
	wholeTried    bool
	checked       bool // the items not written yet were bound once (letOthersIn)
}

// yieldRows is how many products a catalogue on SQLite writes between two turns it gives to
// the deliveries waiting. A delivery arriving during a catalogue waits for the rest of its part:
// in the soak (seed 15, 18:08–18:37 on 2026-12-04) those overlapping one waited 24 ms at the
// median with 100, 15 ms with 50, 12.5 ms with 25; but each turn costs the catalogue a commit
// and the others' batch, and with 25 the slowest catalogues took 1.7 s (0.9 s with 50).
const yieldRows = 50

// letOthersIn gives the deliveries waiting a turn (SQLite): the products written so far are
// committed, the others run, and the catalogue goes on in a new transaction. Before its first
// turn the items still to come (rest) are bound once, so that none can be refused once part
// of the catalogue is stored.
func (b *productBatch) letOthersIn(rest [][]byte) error {
	if b.tx.yield == nil || len(rest) == 0 || !b.tx.store.committer.othersWaiting() {
		return nil
	}
	if !b.checked {
		b.checked = true
		for _, raw := range rest {
			if _, err := b.row(raw); err != nil {
				return err
			}
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	if err := b.wait(); err != nil {
		return err
	}
	overtaken, err := b.tx.yield(b.tx, b.store)
	if len(overtaken) > 0 && b.overtaken == nil {
		b.overtaken = map[string]bool{}
	}
	for _, uuid := range overtaken {
		b.overtaken[uuid] = true
	}
	return err
}

// A re-sent catalogue reads the store's hashes at once only if the store holds at most
// wholeStoreItems times its items, and at most wholeStoreRows products (about 5 MB of memory):
// the read costs no more than a bounded multiple of the delivery's own items. A catalogue
// into a larger store is looked up a batch at a time.
const (
	wholeStoreItems = 2
	wholeStoreRows  = 40_000
)

// addRead adds the items that differ from what is stored (and from what this delivery wrote).
func (b *productBatch) addRead(read []readItem) error {
	if len(read) == 0 {
		return nil
	}
	if !b.empty {
		// The lookups share the transaction's connection with the batch being written: one
		// statement at a time on it (a COPY cannot run while a lookup's rows are read).
		if err := b.wait(); err != nil {
			return err
		}
		if err := b.readWholeIfResent(); err != nil {
			return err
		}
	}
	if b.whole != nil {
		for _, it := range read {
			if uuid, ok := b.whole[it.sum]; ok {
				if w, rewritten := b.written[uuid]; !rewritten || w == it.sum {
					b.cover(uuid)
					continue // stored with these very bytes (and not changed since by this delivery)
				}
			}
			r, err := b.bind(it.raw)
			if err != nil {
				return err
			}
			if b.cover(r.UUID); b.overtaken[r.UUID] {
				continue
			}
			if err := b.add(r, it.sum, b.wholeUUIDs[r.UUID]); err != nil {
				return err
			}
		}
		return nil
	}
	rows := make([]ProductRow, len(read))
	for i, it := range read {
		var err error
		if rows[i], err = b.bind(it.raw); err != nil {
			return err
		}
	}
	stored, err := b.storedHashes(rows)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if b.cover(r.UUID); b.overtaken[r.UUID] {
			continue // written since by a delivery let in: newer
		}
		sum := read[i].sum
		storedSum, held := stored[r.UUID]
		if _, rewritten := b.written[r.UUID]; !rewritten {
			b.looked++
			if held && storedSum == sum {
				b.found++
				continue // stored with these very bytes
			}
		}
		if err := b.add(r, sum, held); err != nil {
			return err
		}
	}
	return nil
}

// cover notes a product the delivery covers, when it is let in during its store's catalogue.
func (b *productBatch) cover(uuid string) {
	if b.letIn {
		b.covered = append(b.covered, uuid)
	}
}

// bind makes a raw item a row of the store.
func (b *productBatch) bind(raw []byte) (ProductRow, error) {
	r, err := b.row(raw)
	r.OwnerID, r.StoreUUID, r.UUID = b.owner, b.store, evotor.CanonicalID(r.UUID)
	return r, err
}

// readWholeIfResent reads the store's hashes once, when the items looked up so far were
// mostly found stored as they are: a re-sent catalogue.
func (b *productBatch) readWholeIfResent() error {
	if b.whole != nil || b.wholeTried || b.looked == 0 || 2*b.found < b.looked {
		return nil
	}
	b.wholeTried = true
	var err error
	b.whole, b.wholeUUIDs, err = b.tx.storeHashes(b.owner, b.store, min(wholeStoreRows, wholeStoreItems*b.items))
	return err
}

// storedHashes finds which of rows' uuids the store held before this delivery, with their
// stored hash (those this delivery wrote are known from b.written).
func (b *productBatch) storedHashes(rows []ProductRow) (map[string]rawHash, error) {
	if b.empty || b.small {
		return nil, nil
	}
	var lookup []string
	for _, r := range rows {
		if _, ok := b.written[r.UUID]; !ok {
			lookup = append(lookup, r.UUID)
		}
	}
	return b.tx.productHashes(b.owner, b.store, lookup)
}

// add queues a changed product; storedBefore: the store held its uuid before this delivery.
func (b *productBatch) add(row ProductRow, sum rawHash, storedBefore bool) error {
	old, writtenBefore := b.written[row.UUID]
	if writtenBefore && old == sum {
		return nil // written as is already by this delivery
	}
	known := storedBefore || writtenBefore || b.small // an INSERT without a conflict check would fail
	b.written[row.UUID] = sum
	row.RawHash = sum[:]
	if i, ok := b.at[row.UUID]; ok { // sent twice in one batch: the last wins
		b.rows[i] = row
		return nil
	}
	b.at[row.UUID] = len(b.rows)
	b.rows, b.replaces = append(b.rows, row), append(b.replaces, known)
	if !known {
		b.fresh++
	}
	if len(b.rows) < productBatchRows {
		return nil
	}
	return b.flush()
}

// flush hands the batch to be written while the next one is gathered (binding and hashing
// products overlaps the database's work); the previous batch's write is waited for first, so
// the transaction has one user at a time.
func (b *productBatch) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	if err := b.wait(); err != nil {
		return err
	}
	rows, replaces, lock := b.rows, b.replaces, b.lock
	now := b.tx.store.now()
	for i := range rows {
		rows[i].UpdatedAt = now
	}
	b.writing, b.lock = make(chan error, 1), nil
	go func() { b.writing <- b.tx.writeProducts(rows, replaces, lock) }()
	clear(b.at)
	b.rows, b.replaces = make([]ProductRow, 0, productBatchRows), make([]bool, 0, productBatchRows)
	return nil
}

// wait waits for the batch being written, if any, and says how its write went.
func (b *productBatch) wait() error {
	if b.writing == nil {
		return nil
	}
	err := <-b.writing
	b.writing = nil
	return err
}

// writeProducts writes a batch of changed products of one store and re-indexes their barcodes
// (after taking the catalogue lock, if given: PostgreSQL).
func (tx *Tx) writeProducts(rows []ProductRow, replaces []bool, lock *statement) error {
	if tx.store.OnPostgres() {
		return tx.writeProductsPostgres(rows, replaces, lock)
	}
	return tx.writeProductsGORM(rows, replaces)
}

// smallDeliveryItems: a products delivery of at most this many items is Evotor's notification
// that a merchant edited products, not a catalogue: on PostgreSQL it shares its store's
// catalogue lock with the others like it; on SQLite it may run in a catalogue's turn.
const smallDeliveryItems = 100

// lockCatalogue makes the products deliveries of one store take turns (PostgreSQL; SQLite has
// a single writer already), so that what a delivery's lookups find stays true until its commit:
// a product they do not find is inserted without a conflict check. Small deliveries do not look
// up: they write every row by upsert (with its conflict check, in uuid order, so two of them
// lock shared products in one order and never deadlock), so they share the lock and run side by
// side; a larger one takes it alone. A transaction-level advisory lock on the store's uuid: it
// writes nothing, and it does not make the store's own row wait (a stores list updating it).
func (tx *Tx) lockCatalogue(storeUUID string, shared bool) error {
	if !tx.store.OnPostgres() {
		return nil
	}
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return err
	}
	lock := catalogueLock(storeUUID, shared)
	_, err = sqlTx.ExecContext(tx.db.Statement.Context, lock.sql, lock.args...)
	return err
}

// catalogueLock is the statement that takes the store's catalogue lock (and plans the
// transaction's statements once: genericPlans).
func catalogueLock(storeUUID string, shared bool) *statement {
	lock := "pg_advisory_xact_lock"
	if shared {
		lock += "_shared"
	}
	return &statement{"SELECT " + lock + "(hashtextextended($1, $2)), " + genericPlans, []any{storeUUID, int64(catalogueLockSeed)}}
}

// storeEmpty reports whether the store holds no product (one index probe).
func (tx *Tx) storeEmpty(owner, storeUUID string) (bool, error) {
	var one []string
	err := tx.db.Model(&ProductRow{}).Select("uuid").Where("owner_id = ? AND store_uuid = ?", owner, storeUUID).Limit(1).Find(&one).Error
	return len(one) == 0, err
}

// lookupRows is how many keys one lookup statement carries (the SQLite driver binds parameters
// in time quadratic in their number).
func (tx *Tx) lookupRows() int { return 5 * tx.batchRows() }

// storeHashes reads the hashes of the store's products (hash → uuid, and the uuids), unless
// it holds more than limit (nil maps).
func (tx *Tx) storeHashes(owner, storeUUID string, limit int) (map[rawHash]string, map[string]bool, error) {
	var rows []struct { // not ProductRow: tens of thousands of its empty columns add up
		UUID    string `gorm:"column:uuid"`
		RawHash []byte
	}
	err := tx.db.Table("products").Select("uuid", "raw_hash").Where("owner_id = ? AND store_uuid = ?", owner, storeUUID).
		Limit(limit + 1).Find(&rows).Error
	if err != nil || len(rows) > limit {
		return nil, nil, err
	}
	byHash, uuids := make(map[rawHash]string, len(rows)), make(map[string]bool, len(rows))
	for _, r := range rows {
		byHash[hashOf(r.RawHash)], uuids[r.UUID] = r.UUID, true
	}
	return byHash, uuids, nil
}

// productHashes finds which of the uuids the store holds: uuid → its stored hash.
func (tx *Tx) productHashes(owner, storeUUID string, uuids []string) (map[string]rawHash, error) {
	if tx.store.OnPostgres() {
		return tx.productHashesPostgres(owner, storeUUID, uuids)
	}
	out := make(map[string]rawHash, len(uuids))
	for part := range slices.Chunk(uuids, tx.lookupRows()) {
		var rows []struct {
			UUID    string `gorm:"column:uuid"`
			RawHash []byte
		}
		err := tx.db.Table("products").Select("uuid", "raw_hash").
			Where("owner_id = ? AND store_uuid = ? AND uuid IN ?", owner, storeUUID, part).Find(&rows).Error
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.UUID] = hashOf(r.RawHash)
		}
	}
	return out, nil
}

// writeProductsGORM writes changed products in multi-row statements (SQLite) and re-indexes
// their barcodes.
func (tx *Tx) writeProductsGORM(rows []ProductRow, replaces []bool) error {
	if _, err := upsert(tx, rows, []string{"owner_id", "store_uuid", "uuid"}, clause.Where{}, productColumns...); err != nil {
		return err
	}
	var replaced []string
	for i, r := range rows {
		if replaces[i] {
			replaced = append(replaced, r.UUID)
		}
	}
	for start := 0; start < len(replaced); start += 500 {
		if err := tx.db.Where("owner_id = ? AND store_uuid = ? AND product_uuid IN ?", rows[0].OwnerID, rows[0].StoreUUID,
			replaced[start:min(start+500, len(replaced))]).Delete(&ProductBarcode{}).Error; err != nil {
			return err
		}
	}
	var barcodes []ProductBarcode
	for _, r := range rows {
		for _, c := range barcodesOf(r) {
			barcodes = append(barcodes, ProductBarcode{OwnerID: r.OwnerID, StoreUUID: r.StoreUUID, ProductUUID: r.UUID, Barcode: c})
		}
	}
	if len(barcodes) == 0 {
		return nil
	}
	return tx.db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(barcodes, 2*tx.batchRows()).Error
}

// barcodesOf is the product's barcodes (its BarCodes JSON array).
func barcodesOf(r ProductRow) []string {
	var codes []string
	if r.BarCodes != nil {
		_ = json.Unmarshal([]byte(*r.BarCodes), &codes)
	}
	return codes
}

// ProductsByBarcode finds the owner's products (groups excluded) with this barcode.
func (s *Store) ProductsByBarcode(ctx context.Context, owner, barcode string) ([]ProductRow, error) {
	var rows []ProductRow
	err := s.db.WithContext(ctx).
		Where("is_group = ? AND (owner_id, store_uuid, uuid) IN (?)", false,
			s.db.Model(&ProductBarcode{}).Select("owner_id, store_uuid, product_uuid").Where("owner_id = ? AND barcode = ?", owner, barcode)).
		Order("store_uuid, uuid").Find(&rows).Error
	return rows, err
}
