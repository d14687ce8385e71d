package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// On PostgreSQL the products new to a store (and their barcodes) are written with COPY, on the
// delivery's own transaction: Accept runs the transaction on a *sql.Conn taken from the pool
// (transactionOnConn), and database/sql's Conn.Raw hands out pgx's connection under it, the
// one the transaction is on. They are copied straight into products (no temporary table: the
// catalogue is locked and its hashes read, so they are known to be absent). Products that
// replace stored ones go through one INSERT … SELECT FROM unnest(one array per column) … ON
// CONFLICT per batch (pgx's stdlib driver passes Go slices through as typed arrays, where GORM
// would expand them into lists); so do new ones when no connection is known.

// transactionOnConn runs f in a transaction on a connection of its own, which f is given. Its
// error means what GORM's would (a database that did not answer: apperr.Unavailable), also for
// taking the connection and for statements run outside GORM.
func (s *Store) transactionOnConn(ctx context.Context, f func(db *gorm.DB, conn *sql.Conn) error) error {
	err := s.db.WithContext(ctx).Connection(func(c *gorm.DB) error {
		conn, _ := c.Statement.ConnPool.(*sql.Conn)
		return c.Transaction(func(db *gorm.DB) error { return f(db, conn) })
	})
	if err != nil {
		return s.translate(err)
	}
	return nil
}

// withPgx runs f with pgx's connection under the transaction (ok false: none is known).
func (tx *Tx) withPgx(f func(conn *pgx.Conn) error) (ok bool, err error) {
	if tx.conn == nil {
		return false, nil
	}
	err = tx.conn.Raw(func(driverConn any) error {
		c, isPgx := driverConn.(*stdlib.Conn)
		if ok = isPgx; !ok {
			return nil
		}
		return f(c.Conn())
	})
	return ok, err
}

// productInsertSQL inserts a batch of products (unnest: one array per column).
const productInsertSQL = `INSERT INTO products (owner_id, store_uuid, uuid, parent_uuid, is_group, has_variants, type, name, code,
		bar_codes, alco_codes, price, quantity, cost_price, measure_name, tax, allow_to_sell, article_number,
		alcohol_by_volume, alcohol_product_kind_code, tare_volume, raw, raw_hash, updated_at)
	SELECT $1, $2, u.*, $24::timestamptz FROM unnest($3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[], $8::text[],
		$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
		$17::boolean[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bytea[], $23::bytea[]) AS u`

// productReplaceSQL writes products that may be stored already: one whose stored raw_hash is
// the same is left as is (though locked, as every row the upsert meets, until the commit).
var productReplaceSQL = func() string {
	var set []string
	for _, c := range append(productColumns, "raw", "updated_at") {
		set = append(set, c+" = excluded."+c)
	}
	return productInsertSQL + `
	ON CONFLICT (owner_id, store_uuid, uuid) DO UPDATE SET ` + strings.Join(set, ", ") + `
	WHERE products.raw_hash IS DISTINCT FROM excluded.raw_hash`
}()

const (
	// reindexBarcodesSQL makes the barcodes of the products upserted ($3) exactly theirs
	// ($4, $5: product, barcode pairs): it deletes those no longer listed and adds the new ones,
	// so a product whose barcodes did not change (a new price: most edits; or the upsert left
	// it as stored) writes nothing here. It runs after the upsert, as a statement of its own,
	// while the upsert holds the products' row locks until the commit: no other delivery
	// changes their barcodes meanwhile, and its snapshot sees what the last one wrote.
	reindexBarcodesSQL = `WITH listed AS (SELECT * FROM unnest($4::text[], $5::text[]) AS u(product_uuid, barcode)),
	stale AS (DELETE FROM product_barcodes b WHERE b.owner_id = $1 AND b.store_uuid = $2 AND b.product_uuid = ANY($3::text[])
		AND NOT EXISTS (SELECT 1 FROM listed l WHERE l.product_uuid = b.product_uuid AND l.barcode = b.barcode))
	INSERT INTO product_barcodes (owner_id, store_uuid, product_uuid, barcode) SELECT $1, $2, l.* FROM listed l
	ON CONFLICT DO NOTHING`
	// Without a conflict check: the products are new to the store and the catalogue is locked
	// (lockCatalogue), so they have no barcodes yet.
	insertBarcodesSQL = `INSERT INTO product_barcodes (owner_id, store_uuid, product_uuid, barcode)
	SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[]) AS u`
)

// productColumnsOf lays the rows out as one slice per column of productUpsertSQL.
type productColumnsOf struct {
	uuid                                                        []string
	parentUUID, typ, code, barCodes, alcoCodes, price, quantity []*string
	costPrice, measureName, tax, articleNumber, alcoholByVolume []*string
	alcoholProductKindCode, tareVolume                          []*string
	name                                                        []string
	isGroup                                                     []bool
	hasVariants, allowToSell                                    []*bool
	raw, rawHash                                                [][]byte
	updatedAt                                                   []any
}

func (c *productColumnsOf) add(r *ProductRow) {
	c.uuid, c.parentUUID, c.isGroup = append(c.uuid, r.UUID), append(c.parentUUID, r.ParentUUID), append(c.isGroup, r.IsGroup)
	c.hasVariants, c.typ, c.name = append(c.hasVariants, r.HasVariants), append(c.typ, r.Type), append(c.name, r.Name)
	c.code, c.barCodes, c.alcoCodes = append(c.code, r.Code), append(c.barCodes, r.BarCodes), append(c.alcoCodes, r.AlcoCodes)
	c.price, c.quantity, c.costPrice = append(c.price, r.Price), append(c.quantity, r.Quantity), append(c.costPrice, r.CostPrice)
	c.measureName, c.tax, c.allowToSell = append(c.measureName, r.MeasureName), append(c.tax, r.Tax), append(c.allowToSell, r.AllowToSell)
	c.articleNumber, c.alcoholByVolume = append(c.articleNumber, r.ArticleNumber), append(c.alcoholByVolume, r.AlcoholByVolume)
	c.alcoholProductKindCode, c.tareVolume = append(c.alcoholProductKindCode, r.AlcoholProductKindCode), append(c.tareVolume, r.TareVolume)
	c.raw, c.rawHash = append(c.raw, r.Raw), append(c.rawHash, r.RawHash)
}

func (c *productColumnsOf) args(owner, store string, updatedAt time.Time) []any {
	return []any{owner, store, c.uuid, c.parentUUID, c.isGroup, c.hasVariants, c.typ, c.name, c.code, c.barCodes,
		c.alcoCodes, c.price, c.quantity, c.costPrice, c.measureName, c.tax, c.allowToSell, c.articleNumber,
		c.alcoholByVolume, c.alcoholProductKindCode, c.tareVolume, c.raw, c.rawHash, updatedAt}
}

// writeProductsPostgres writes a batch of changed products of one store: those that may be
// stored in one upsert, whose barcodes are then re-indexed (reindexBarcodesSQL); those known
// to be new to the store copied, with their barcodes. lock, if not nil, takes the store's
// catalogue lock first, in the same round trip as the upsert (a small delivery's).
func (tx *Tx) writeProductsPostgres(rows []ProductRow, replaces []bool, lock *statement) error {
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return err
	}
	ctx, owner, store, at := tx.db.Statement.Context, rows[0].OwnerID, rows[0].StoreUUID, rows[0].UpdatedAt
	var fresh, replacingRows []*ProductRow
	for i := range rows {
		if replaces[i] {
			replacingRows = append(replacingRows, &rows[i])
		} else {
			fresh = append(fresh, &rows[i])
		}
	}
	// In uuid order: deliveries sharing the store's lock (lockCatalogue) lock the products they
	// both write in the same order.
	slices.SortFunc(replacingRows, func(a, b *ProductRow) int { return strings.Compare(a.UUID, b.UUID) })
	var statements []statement // sent together (execAll): the lock first, if any
	if lock != nil {
		statements = append(statements, *lock)
	}
	if len(replacingRows) > 0 {
		var replacing productColumnsOf
		for _, r := range replacingRows {
			replacing.add(r)
		}
		codeProducts, codes := barcodePairs(replacingRows)
		statements = append(statements, statement{productReplaceSQL, replacing.args(owner, store, at)},
			statement{reindexBarcodesSQL, []any{owner, store, replacing.uuid, codeProducts, codes}})
	}
	if err := tx.execAll(ctx, sqlTx, statements); err != nil {
		return fmt.Errorf("replacing products: %w", err)
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := tx.insertProducts(ctx, sqlTx, fresh); err != nil {
		return err
	}
	codeProducts, codes := barcodePairs(fresh)
	if len(codes) == 0 {
		return nil
	}
	copied, err := tx.withPgx(func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"product_barcodes"}, []string{"owner_id", "store_uuid", "product_uuid", "barcode"},
			pgx.CopyFromSlice(len(codes), func(i int) ([]any, error) { return []any{owner, store, codeProducts[i], codes[i]}, nil }))
		return err
	})
	if err == nil && !copied {
		_, err = sqlTx.ExecContext(ctx, insertBarcodesSQL, owner, store, codeProducts, codes)
	}
	if err != nil {
		return fmt.Errorf("indexing barcodes: %w", err)
	}
	return nil
}

// copiedProductColumns are the columns COPY fills, in productCopyRow's order.
var copiedProductColumns = []string{"owner_id", "store_uuid", "uuid", "parent_uuid", "is_group", "has_variants", "type",
	"name", "code", "bar_codes", "alco_codes", "price", "quantity", "cost_price", "measure_name", "tax", "allow_to_sell",
	"article_number", "alcohol_by_volume", "alcohol_product_kind_code", "tare_volume", "raw", "raw_hash", "updated_at"}

func productCopyRow(r *ProductRow) []any {
	return []any{r.OwnerID, r.StoreUUID, r.UUID, r.ParentUUID, r.IsGroup, r.HasVariants, r.Type, r.Name, r.Code,
		r.BarCodes, r.AlcoCodes, r.Price, r.Quantity, r.CostPrice, r.MeasureName, r.Tax, r.AllowToSell,
		r.ArticleNumber, r.AlcoholByVolume, r.AlcoholProductKindCode, r.TareVolume, r.Raw, r.RawHash, r.UpdatedAt}
}

// statement is a statement with its arguments ($1, $2, …).
type statement struct {
	sql  string
	args []any
}

// execAll runs the statements in order, in one round trip (a pgx batch on the transaction's
// connection) where one is known, else one at a time. Each is a statement of its own: it sees
// what the ones before it wrote, and what others committed meanwhile.
func (tx *Tx) execAll(ctx context.Context, sqlTx *sql.Tx, statements []statement) error {
	if len(statements) == 0 {
		return nil
	}
	sent, err := tx.withPgx(func(conn *pgx.Conn) error {
		var batch pgx.Batch
		for _, s := range statements {
			batch.Queue(s.sql, s.args...)
		}
		return conn.SendBatch(ctx, &batch).Close()
	})
	for _, s := range statements {
		if err != nil || sent {
			break
		}
		_, err = sqlTx.ExecContext(ctx, s.sql, s.args...)
	}
	return err
}

// insertProducts inserts products new to the store: COPY on the transaction's connection,
// else one INSERT … unnest.
func (tx *Tx) insertProducts(ctx context.Context, sqlTx *sql.Tx, rows []*ProductRow) error {
	copied, err := tx.withPgx(func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"products"}, copiedProductColumns,
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return productCopyRow(rows[i]), nil }))
		return err
	})
	if err == nil && !copied {
		var cols productColumnsOf
		for _, r := range rows {
			cols.add(r)
		}
		_, err = sqlTx.ExecContext(ctx, productInsertSQL, cols.args(rows[0].OwnerID, rows[0].StoreUUID, rows[0].UpdatedAt)...)
	}
	if err != nil {
		return fmt.Errorf("inserting products: %w", err)
	}
	return nil
}

// productHashesSQL looks a batch's uuids up with one array parameter: one statement text
// whatever the batch's size (an IN list of n parameters is a new statement for every n,
// prepared and kept in pgx's per-connection cache), planned as primary-key probes.
const productHashesSQL = `SELECT p.uuid, p.raw_hash FROM unnest($3::text[]) AS u(uuid)
	JOIN products p ON p.owner_id = $1 AND p.store_uuid = $2 AND p.uuid = u.uuid`

// productHashesPostgres is productHashes in one statement (productHashesSQL).
func (tx *Tx) productHashesPostgres(owner, storeUUID string, uuids []string) (map[string]rawHash, error) {
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return nil, err
	}
	rows, err := sqlTx.QueryContext(tx.db.Statement.Context, productHashesSQL, owner, storeUUID, uuids)
	if err != nil {
		return nil, fmt.Errorf("looking products up: %w", err)
	}
	defer rows.Close()
	out := make(map[string]rawHash, len(uuids))
	for rows.Next() {
		var uuid string
		var sum []byte
		if err := rows.Scan(&uuid, &sum); err != nil {
			return nil, err
		}
		out[uuid] = hashOf(sum)
	}
	return out, rows.Err()
}

// barcodePairs lists the barcodes of rows as (product, barcode) pairs.
func barcodePairs(rows []*ProductRow) (products, codes []string) {
	for _, r := range rows {
		for _, c := range uniqueBarcodesOf(*r) {
			products, codes = append(products, r.UUID), append(codes, c)
		}
	}
	return products, codes
}

// uniqueBarcodesOf is the product's barcodes, each once.
func uniqueBarcodesOf(r ProductRow) []string {
	codes := barcodesOf(r)
	slices.Sort(codes)
	return slices.Compact(codes)
}
