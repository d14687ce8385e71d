package storage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"iter"
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

// productBatchRows is how many products are written at a time: a catalogue is written as it
// is read, never held whole.
const productBatchRows = 1000

// UpsertProducts writes a store's products: each raw item of items (a slice of the body, not a
// copy) that differs from what is stored is made a row by row (Raw: the item) and written, a batch at a time,
// and the barcodes of those written re-indexed. Evotor re-sends whole catalogues when an
// answer is late, and a re-sent catalogue should cost a read of the store's hashes, not 25,000
// updates: an item whose bytes are those stored is not even made a row. A uuid sent twice is
// stored as sent last.
//
// Products are keyed by (owner, store, uuid), so no owner check can apply to them: what
// protects a catalogue is the store claim, which must come first (ClaimStores) and fails when
// the store is another user's.
func (tx *Tx) UpsertProducts(owner, storeUUID string, items iter.Seq[[]byte], row func(raw []byte) (ProductRow, error)) error {
	if err := tx.lockCatalogue(storeUUID); err != nil {
		return err
	}
	stored, err := tx.productHashes(owner, storeUUID)
	if err != nil {
		return err
	}
	b := productBatch{tx: tx, stored: stored, at: map[string]int{}}
	defer b.wait() // no write may outlive the call (the transaction ends after it)
	for raw := range items {
		sum := sha256.Sum256(raw)
		if stored.holds(sum) {
			continue
		}
		r, err := row(raw)
		if err != nil {
			return err
		}
		r.OwnerID, r.StoreUUID = owner, storeUUID
		if err := b.add(r, sum); err != nil {
			return err
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	return b.wait()
}

type rawHash = [sha256.Size]byte

// productHashSet is what a store's products are (their raw JSON's SHA-256), as they will be
// once this delivery's batches are written.
type productHashSet struct {
	byUUID map[string]rawHash
	byHash map[rawHash]string
}

// holds: a product is stored with exactly these bytes (they hold its uuid: it is that product).
func (s productHashSet) holds(sum rawHash) bool {
	uuid, ok := s.byHash[sum]
	return ok && s.byUUID[uuid] == sum
}

// replace records that uuid is now sum, and tells whether the store held uuid already.
func (s productHashSet) replace(uuid string, sum rawHash) (known bool) {
	old, known := s.byUUID[uuid]
	delete(s.byHash, old)
	s.byUUID[uuid], s.byHash[sum] = sum, uuid
	return known
}

// productBatch gathers the changed products until a batch is full.
type productBatch struct {
	tx       *Tx
	stored   productHashSet
	rows     []ProductRow
	replaces []bool         // rows[i] replaces a stored product (its old barcodes go)
	at       map[string]int // uuid -> index in rows
	writing  chan error     // the batch being written, if any
}

func (b *productBatch) add(row ProductRow, sum rawHash) error {
	row.UUID = evotor.CanonicalID(row.UUID)
	if old, ok := b.stored.byUUID[row.UUID]; ok && old == sum {
		return nil // stored as is (or about to be)
	}
	known := b.stored.replace(row.UUID, sum)
	row.RawHash = sum[:]
	if i, ok := b.at[row.UUID]; ok { // sent twice in one batch: the last wins
		b.rows[i] = row
		return nil
	}
	b.at[row.UUID] = len(b.rows)
	b.rows, b.replaces = append(b.rows, row), append(b.replaces, known)
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
	rows, replaces := b.rows, b.replaces
	now := b.tx.store.now()
	for i := range rows {
		rows[i].UpdatedAt = now
	}
	b.writing = make(chan error, 1)
	go func() { b.writing <- b.tx.writeProducts(rows, replaces) }()
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

// writeProducts writes a batch of changed products of one store and re-indexes their barcodes.
func (tx *Tx) writeProducts(rows []ProductRow, replaces []bool) error {
	if tx.store.OnPostgres() {
		return tx.writeProductsPostgres(rows, replaces)
	}
	return tx.writeProductsGORM(rows, replaces)
}

// lockCatalogue makes deliveries of one store's catalogue take turns (PostgreSQL; SQLite has a
// single writer already), so that what productHashes reads stays true until the commit: a
// product it does not find is inserted without a conflict check.
func (tx *Tx) lockCatalogue(storeUUID string) error {
	var locked []StoreRow
	return tx.store.forUpdate(tx.db.Model(&StoreRow{}).Select("uuid").Where("uuid = ?", storeUUID)).Find(&locked).Error
}

// productHashes reads the SHA-256 of each product the store holds (one read of the store: an
// IN list of thousands of uuids makes PostgreSQL scan the table once per uuid on a freshly
// filled table).
func (tx *Tx) productHashes(owner, storeUUID string) (productHashSet, error) {
	set := productHashSet{byUUID: map[string]rawHash{}, byHash: map[rawHash]string{}}
	rows, err := tx.db.Model(&ProductRow{}).Select("uuid", "raw_hash").
		Where("owner_id = ? AND store_uuid = ?", owner, storeUUID).Rows()
	if err != nil {
		return set, err
	}
	defer rows.Close()
	var uuid string
	var hash []byte
	for rows.Next() {
		if err := rows.Scan(&uuid, &hash); err != nil {
			return set, err
		}
		var h rawHash
		copy(h[:], hash) // a hash of another length matches nothing: the product is rewritten
		set.byUUID[uuid], set.byHash[h] = h, uuid
	}
	return set, rows.Err()
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
