package storage

import (
	"fmt"
	"strings"
	"time"
)

// On PostgreSQL a batch of products is one INSERT … SELECT FROM unnest(one array per column),
// run on the delivery's own transaction (database/sql's *sql.Tx under GORM's: pgx's stdlib
// driver passes Go slices through as typed arrays, where GORM would expand them into lists).
// One statement per 1,000 products, with no temporary table and no second copy of the rows:
// pgx's CopyFrom needs the *pgx.Conn, which a *sql.Tx does not give, and COPY into a temporary
// table then INSERT … SELECT writes every row twice.

// productUpsertSQL upserts the batch and returns the uuids it wrote: a product whose stored
// raw_hash is the same is left as is.
var productUpsertSQL = func() string {
	var set []string
	for _, c := range append(productColumns, "raw", "updated_at") {
		set = append(set, c+" = excluded."+c)
	}
	return `INSERT INTO products (owner_id, store_uuid, uuid, parent_uuid, is_group, has_variants, type, name, code,
		bar_codes, alco_codes, price, quantity, cost_price, measure_name, tax, allow_to_sell, article_number,
		alcohol_by_volume, alcohol_product_kind_code, tare_volume, raw, raw_hash, updated_at)
	SELECT $1, $2, u.*, $24::timestamptz FROM unnest($3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[], $8::text[],
		$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
		$17::boolean[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bytea[], $23::bytea[]) AS u
	ON CONFLICT (owner_id, store_uuid, uuid) DO UPDATE SET ` + strings.Join(set, ", ") + `
	WHERE products.raw_hash IS DISTINCT FROM excluded.raw_hash
	RETURNING uuid`
}()

const (
	deleteBarcodesSQL = `DELETE FROM product_barcodes WHERE owner_id = $1 AND store_uuid = $2 AND product_uuid = ANY($3::text[])`
	insertBarcodesSQL = `INSERT INTO product_barcodes (owner_id, store_uuid, product_uuid, barcode)
	SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[]) AS u ON CONFLICT DO NOTHING`
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

// writeProductsPostgres upserts a batch of changed products of one store in one statement, then
// re-indexes the barcodes of those it wrote: the old ones of a replaced product go, and every
// written product's barcodes are inserted.
func (tx *Tx) writeProductsPostgres(rows []ProductRow, replaces []bool) error {
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return err
	}
	ctx, owner, store := tx.db.Statement.Context, rows[0].OwnerID, rows[0].StoreUUID
	var cols productColumnsOf
	for i := range rows {
		cols.add(&rows[i])
	}
	written, err := sqlTx.QueryContext(ctx, productUpsertSQL, cols.args(owner, store, rows[0].UpdatedAt)...)
	if err != nil {
		return fmt.Errorf("upserting products: %w", err)
	}
	wrote := make(map[string]bool, len(rows))
	for written.Next() {
		var uuid string
		if err := written.Scan(&uuid); err != nil {
			written.Close()
			return err
		}
		wrote[uuid] = true
	}
	if err := written.Close(); err != nil {
		return err
	}
	if err := written.Err(); err != nil {
		return err
	}
	var replaced, codeProducts, codes []string
	for i, r := range rows {
		if !wrote[r.UUID] {
			continue
		}
		if replaces[i] {
			replaced = append(replaced, r.UUID)
		}
		for _, c := range barcodesOf(r) {
			codeProducts, codes = append(codeProducts, r.UUID), append(codes, c)
		}
	}
	if len(replaced) > 0 {
		if _, err := sqlTx.ExecContext(ctx, deleteBarcodesSQL, owner, store, replaced); err != nil {
			return fmt.Errorf("deleting barcodes: %w", err)
		}
	}
	if len(codes) > 0 {
		if _, err := sqlTx.ExecContext(ctx, insertBarcodesSQL, owner, store, codeProducts, codes); err != nil {
			return fmt.Errorf("indexing barcodes: %w", err)
		}
	}
	return nil
}
