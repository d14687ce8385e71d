package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// On PostgreSQL a batch of products is an INSERT … SELECT FROM unnest(one array per column),
// run on the delivery's own transaction (database/sql's *sql.Tx under GORM's: pgx's stdlib
// driver passes Go slices through as typed arrays, where GORM would expand them into lists).
// One statement per 1,000 products, with no temporary table and no second copy of the rows:
// pgx's CopyFrom needs the *pgx.Conn, which a *sql.Tx does not give, and COPY into a temporary
// table then INSERT … SELECT writes every row twice.

// productInsertSQL inserts a batch of products (unnest: one array per column).
const productInsertSQL = `INSERT INTO products (owner_id, store_uuid, uuid, parent_uuid, is_group, has_variants, type, name, code,
		bar_codes, alco_codes, price, quantity, cost_price, measure_name, tax, allow_to_sell, article_number,
		alcohol_by_volume, alcohol_product_kind_code, tare_volume, raw, raw_hash, updated_at)
	SELECT $1, $2, u.*, $24::timestamptz FROM unnest($3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[], $8::text[],
		$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
		$17::boolean[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bytea[], $23::bytea[]) AS u`

// productReplaceSQL replaces stored products and returns the uuids it wrote: one whose stored
// raw_hash is the same is left as is.
var productReplaceSQL = func() string {
	var set []string
	for _, c := range append(productColumns, "raw", "updated_at") {
		set = append(set, c+" = excluded."+c)
	}
	return productInsertSQL + `
	ON CONFLICT (owner_id, store_uuid, uuid) DO UPDATE SET ` + strings.Join(set, ", ") + `
	WHERE products.raw_hash IS DISTINCT FROM excluded.raw_hash
	RETURNING uuid`
}()

const (
	deleteBarcodesSQL = `DELETE FROM product_barcodes WHERE owner_id = $1 AND store_uuid = $2 AND product_uuid = ANY($3::text[])`
	// Without a conflict check: the products written have no barcodes left (new to the store,
	// or their old ones deleted) and the catalogue is locked (lockCatalogue).
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

// writeProductsPostgres writes a batch of changed products of one store: those new to the
// store in one INSERT, those replacing stored ones in one upsert; then it re-indexes the
// barcodes of those written (the old ones of a replaced product go).
func (tx *Tx) writeProductsPostgres(rows []ProductRow, replaces []bool) error {
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return err
	}
	ctx, owner, store, at := tx.db.Statement.Context, rows[0].OwnerID, rows[0].StoreUUID, rows[0].UpdatedAt
	var added, replacing productColumnsOf
	for i := range rows {
		if replaces[i] {
			replacing.add(&rows[i])
		} else {
			added.add(&rows[i])
		}
	}
	wrote := make(map[string]bool, len(rows))
	if len(added.uuid) > 0 {
		if _, err := sqlTx.ExecContext(ctx, productInsertSQL, added.args(owner, store, at)...); err != nil {
			return fmt.Errorf("inserting products: %w", err)
		}
		for _, u := range added.uuid {
			wrote[u] = true
		}
	}
	var replaced []string
	if len(replacing.uuid) > 0 {
		if replaced, err = queryStrings(ctx, sqlTx, productReplaceSQL, replacing.args(owner, store, at)...); err != nil {
			return fmt.Errorf("replacing products: %w", err)
		}
		if _, err := sqlTx.ExecContext(ctx, deleteBarcodesSQL, owner, store, replaced); err != nil {
			return fmt.Errorf("deleting barcodes: %w", err)
		}
		for _, u := range replaced {
			wrote[u] = true
		}
	}
	var codeProducts, codes []string
	for _, r := range rows {
		if wrote[r.UUID] {
			for _, c := range uniqueBarcodesOf(r) {
				codeProducts, codes = append(codeProducts, r.UUID), append(codes, c)
			}
		}
	}
	if len(codes) == 0 {
		return nil
	}
	if _, err := sqlTx.ExecContext(ctx, insertBarcodesSQL, owner, store, codeProducts, codes); err != nil {
		return fmt.Errorf("indexing barcodes: %w", err)
	}
	return nil
}

// uniqueBarcodesOf is the product's barcodes, each once.
func uniqueBarcodesOf(r ProductRow) []string {
	codes := barcodesOf(r)
	slices.Sort(codes)
	return slices.Compact(codes)
}

// queryStrings runs a query returning one text column.
func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
