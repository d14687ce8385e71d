package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/security"
)

// receiptsStatement is a receipts delivery on PostgreSQL in one statement: one round trip,
// committed on its own (pgx prepares it once per connection). It does what AcceptReceipts
// does through Accept, in this order of reasoning:
//
//   - seen_*: the token, stores and receipts as the statement's snapshot shows them;
//   - claimed: the stores not seen yet, inserted for the owner;
//   - fresh: the receipts not seen yet, inserted; their items; the inbox row when any is fresh;
//   - the final SELECT checks what was read and written, and evotor_refuse (migration 00007)
//     aborts the whole statement, writes included, when the token no longer authenticates
//     (the rule of security.UserTokenRecord.Refusal), when a store or receipt is another
//     owner's, or when an insert met a row committed after the snapshot was taken ("retry":
//     whose it is cannot be known here; the statement runs again and sees it).
//
// ON CONFLICT DO NOTHING waits for a concurrent insert of the same key, so two deliveries
// never both write one receipt: the later one retries and finds it stored (a redelivery).
const receiptsStatement = `
WITH token AS (
    SELECT revoked_at IS NOT NULL AS revoked, superseded_at <= $3 AS expired
    FROM user_tokens WHERE id = $2
), seen_stores AS (
    SELECT uuid, owner_id FROM stores WHERE uuid = ANY($9::text[])
), seen_receipts AS (
    SELECT id, owner_id FROM receipts WHERE id = ANY($10::text[])
), claimed AS (
    INSERT INTO stores (owner_id, uuid, updated_at)
    SELECT $1, u, $4 FROM unnest($9::text[]) AS u WHERE u NOT IN (SELECT uuid FROM seen_stores)
    ON CONFLICT (uuid) DO NOTHING
    RETURNING uuid
), fresh AS (
    INSERT INTO receipts (owner_id, id, receipt_uuid, store_uuid, device_uuid, employee_uuid, shift_id, type,
        payment_source, date_time, total_amount, total_tax, total_discount, raw, received_at)
    SELECT $1, r.*, $4 FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
        $16::text[], $17::text[], $18::timestamptz[], $19::text[], $20::text[], $21::text[], $22::bytea[])
        AS r(id, receipt_uuid, store_uuid, device_uuid, employee_uuid, shift_id, type, payment_source,
             date_time, total_amount, total_tax, total_discount, raw)
    WHERE r.id NOT IN (SELECT id FROM seen_receipts)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), items AS (
    INSERT INTO receipt_items (receipt_id, position, item_uuid, name, item_type, quantity, price, sum_price, tax, discount)
    SELECT i.* FROM unnest($23::text[], $24::int[], $25::text[], $26::text[], $27::text[], $28::text[],
        $29::text[], $30::text[], $31::text[], $32::text[])
        AS i(receipt_id, position, item_uuid, name, item_type, quantity, price, sum_price, tax, discount)
    WHERE i.receipt_id IN (SELECT id FROM fresh)
), inbox_row AS (
    INSERT INTO inbox (operation, evotor_user_id, path_params, received_at, body)
    SELECT $5, $6, $7, $4, $8 WHERE EXISTS (SELECT 1 FROM fresh)
)
SELECT CASE
    WHEN NOT EXISTS (SELECT 1 FROM token WHERE NOT revoked) THEN evotor_refuse('bad token')
    WHEN EXISTS (SELECT 1 FROM token WHERE expired) THEN evotor_refuse('expired token')
    WHEN EXISTS (SELECT 1 FROM seen_stores WHERE owner_id <> $1)
      OR EXISTS (SELECT 1 FROM seen_receipts WHERE owner_id <> $1) THEN evotor_refuse('not owner')
    WHEN (SELECT count(*) FROM claimed) + (SELECT count(*) FROM seen_stores) < cardinality($9::text[])
      OR (SELECT count(*) FROM fresh) + (SELECT count(*) FROM seen_receipts) < cardinality($10::text[])
      THEN evotor_refuse('retry')
    ELSE (SELECT count(*) FROM fresh)
END`

// retriesOfConcurrentInsert bounds the re-runs of receiptsStatement after it met rows
// committed during its run; each re-run sees them, so one is almost always enough.
const retriesOfConcurrentInsert = 5

func (s *Store) acceptReceiptsInOneStatement(ctx context.Context, entry InboxEntry, token security.UserTokenCheck, owner string, receipts []ReceiptRow) (bool, error) {
	args := receiptsArguments(entry, token, owner, receipts, s.now())
	sqlDB, err := s.db.DB()
	if err != nil {
		return false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, s.translate(err)
	}
	defer conn.Close()
	for range retriesOfConcurrentInsert {
		var fresh int64
		err = conn.Raw(func(driverConn any) error {
			return driverConn.(*stdlib.Conn).Conn().QueryRow(ctx, receiptsStatement, args...).Scan(&fresh)
		})
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return fresh == 0, nil
		case !errors.As(err, &pgErr) || pgErr.Code != "EV001":
			return false, s.translate(err)
		case pgErr.Message == "bad token":
			return false, apperr.New(apperr.BadUserToken, "")
		case pgErr.Message == "expired token":
			return false, apperr.New(apperr.ExpiredUserToken, "")
		case pgErr.Message == "not owner":
			return false, ErrNotOwner
		}
	}
	return false, fmt.Errorf("receipts: rows inserted concurrently, still unseen after %d runs: %w", retriesOfConcurrentInsert, err)
}

// translate gives an error of a statement run outside GORM the meaning GORM's would have
// (a database that did not answer: apperr.Unavailable).
func (s *Store) translate(err error) error {
	return s.db.Dialector.(interface{ Translate(error) error }).Translate(err)
}

// receiptsArguments are receiptsStatement's parameters: the receipts and their items as
// column arrays, each receipt id once (a repeat in one body is a redelivery of the first).
func receiptsArguments(entry InboxEntry, token security.UserTokenCheck, owner string, receipts []ReceiptRow, now time.Time) []any {
	var (
		stores                                     []string
		ids, receiptUUIDs, storeUUIDs, types       []string
		devices, employees, shifts, paymentSources []*string
		amounts, taxes, discounts                  []*string
		dateTimes                                  []*time.Time
		raws                                       [][]byte
		itemReceipts, itemUUIDs                    []string
		positions                                  []int32
		names, itemTypes, quantities, prices       []*string
		sums, itemTaxes, itemDiscounts             []*string
	)
	seenStore, seenID := map[string]bool{}, map[string]bool{}
	for _, r := range receipts {
		id, store := security.CanonicalID(r.ID), security.CanonicalID(r.StoreUUID)
		if store != "" && !seenStore[store] {
			seenStore[store] = true
			stores = append(stores, store)
		}
		if seenID[id] {
			continue
		}
		seenID[id] = true
		ids, receiptUUIDs, storeUUIDs, types = append(ids, id), append(receiptUUIDs, r.ReceiptUUID), append(storeUUIDs, store), append(types, r.Type)
		devices, employees, shifts, paymentSources = append(devices, r.DeviceUUID), append(employees, r.EmployeeUUID), append(shifts, r.ShiftID), append(paymentSources, r.PaymentSource)
		amounts, taxes, discounts = append(amounts, r.TotalAmount), append(taxes, r.TotalTax), append(discounts, r.TotalDiscount)
		dateTimes, raws = append(dateTimes, r.DateTime), append(raws, r.Raw)
		for pos, it := range r.Items {
			itemReceipts, positions, itemUUIDs = append(itemReceipts, id), append(positions, int32(pos)), append(itemUUIDs, it.ItemUUID)
			names, itemTypes, quantities, prices = append(names, it.Name), append(itemTypes, it.ItemType), append(quantities, it.Quantity), append(prices, it.Price)
			sums, itemTaxes, itemDiscounts = append(sums, it.SumPrice), append(itemTaxes, it.Tax), append(itemDiscounts, it.Discount)
		}
	}
	return []any{owner, token.ID, token.Cutoff, now,
		entry.Operation, entry.EvotorUserID, entry.PathParams, entry.Body,
		stores, ids, receiptUUIDs, storeUUIDs, devices, employees, shifts, types, paymentSources,
		dateTimes, amounts, taxes, discounts, raws,
		itemReceipts, positions, itemUUIDs, names, itemTypes, quantities, prices, sums, itemTaxes, itemDiscounts}
}
