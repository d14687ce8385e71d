package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// receiptsStatement stores a batch of receipts deliveries on PostgreSQL in one statement: one
// round trip and one commit for them all (pgx prepares it once per connection). Per delivery
// it does what impl/deliver's receipts rule does through Accept:
//
//   - token: each delivery's user token as it is now (usertoken.RefusalSQL, Refusal's rule);
//     it, stores and receipts are read one key at a time (scalar subqueries): so the cached
//     plan probes their primary keys, where a join planned while the tables were small would
//     scan a whole table at every run;
//   - stores: those not stored yet are claimed for the delivery's owner;
//   - receipts: those not stored yet are inserted (fresh), with their items; a receipt's JSON
//     is not copied: it is a span of its delivery's body (migration 00008);
//   - an inbox row for each delivery with a fresh receipt, its id drawn first for the spans;
//   - and, where the delivery is forwarded, its messages, one per destination, unnumbered
//     (seq NULL) as insertForwardedInboxSQL writes them: SequenceMessages numbers them
//     once committed.
//
// The final SELECT checks what was read and written; evotor_refuse (migration 00007) aborts
// the whole statement, writes included, naming the first failure: a token that no longer
// authenticates, a store or receipt of another owner, or "retry" when an insert met a row
// committed after the statement's snapshot was taken (whose it is cannot be known here; a
// second run sees it). ON CONFLICT DO NOTHING waits for a concurrent insert of the same key,
// so two deliveries never both write one receipt: the later one retries and finds it stored.
var receiptsStatement = `
WITH d AS (
    SELECT *, nextval('inbox_id_seq') AS inbox_id
    FROM unnest($2::text[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::bytea[])
        WITH ORDINALITY AS d(owner_id, token_id, cutoff, operation, evotor_user_id, path_params, body, n)
), token AS (
    SELECT coalesce((SELECT ` + usertoken.RefusalSQL("t", "d.cutoff") + `
                     FROM user_tokens t WHERE t.id = d.token_id), 'bad') AS verdict
    FROM d
), named_stores AS (
    SELECT * FROM unnest($9::bigint[], $10::text[]) AS s(n, uuid)
), seen_stores AS (
    SELECT * FROM (SELECT s.uuid, (SELECT owner_id FROM stores WHERE stores.uuid = s.uuid) AS owner_id
                   FROM (SELECT DISTINCT uuid FROM named_stores) s) o
    WHERE owner_id IS NOT NULL
), claimed AS (
    INSERT INTO stores (owner_id, uuid, updated_at)
    SELECT d.owner_id, s.uuid, $1 FROM named_stores s JOIN d USING (n)
    WHERE s.uuid NOT IN (SELECT uuid FROM seen_stores)
    ON CONFLICT (uuid) DO NOTHING
    RETURNING uuid, owner_id
), store_owners AS (
    SELECT * FROM seen_stores UNION ALL SELECT * FROM claimed
), named_receipts AS (
    SELECT * FROM unnest($11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
        $18::text[], $19::text[], $20::timestamptz[], $21::text[], $22::text[], $23::text[], $24::int[], $35::int[])
        AS r(n, id, receipt_uuid, store_uuid, device_uuid, employee_uuid, shift_id, type, payment_source,
             date_time, total_amount, total_tax, total_discount, raw_at, raw_length)
), seen_receipts AS (
    SELECT * FROM (SELECT r.id, (SELECT owner_id FROM receipts WHERE receipts.id = r.id) AS owner_id
                   FROM named_receipts r) o
    WHERE owner_id IS NOT NULL
), fresh AS (
    INSERT INTO receipts (owner_id, id, receipt_uuid, store_uuid, device_uuid, employee_uuid, shift_id, type,
        payment_source, date_time, total_amount, total_tax, total_discount, raw, received_at, inbox_id, raw_at, raw_length)
    SELECT d.owner_id, r.id, r.receipt_uuid, r.store_uuid, r.device_uuid, r.employee_uuid, r.shift_id, r.type,
        r.payment_source, r.date_time, r.total_amount, r.total_tax, r.total_discount, '', $1, d.inbox_id, r.raw_at, r.raw_length
    FROM named_receipts r JOIN d USING (n)
    WHERE r.id NOT IN (SELECT id FROM seen_receipts)
    ON CONFLICT (id) DO NOTHING
    RETURNING id, owner_id
), receipt_owners AS (
    SELECT * FROM seen_receipts UNION ALL SELECT * FROM fresh
), items AS (
    INSERT INTO receipt_items (receipt_id, position, item_uuid, name, item_type, quantity, price, sum_price, tax, discount)
    SELECT i.* FROM unnest($25::text[], $26::int[], $27::text[], $28::text[], $29::text[], $30::text[],
        $31::text[], $32::text[], $33::text[], $34::text[])
        AS i(receipt_id, position, item_uuid, name, item_type, quantity, price, sum_price, tax, discount)
    WHERE i.receipt_id IN (SELECT id FROM fresh)
), inbox_rows AS (
    INSERT INTO inbox (id, operation, evotor_user_id, path_params, received_at, body)
    SELECT d.inbox_id, d.operation, d.evotor_user_id, d.path_params, $1, d.body FROM d
    WHERE d.n IN (SELECT r.n FROM named_receipts r JOIN fresh USING (id))
    ORDER BY d.n
    RETURNING id
), forwards AS (
    INSERT INTO forward_messages (destination, evotor_user_id, inbox_id, state, attempts, created_at)
    SELECT f.destination, coalesce(d.evotor_user_id, ''), d.inbox_id, '` + ForwardPending + `', 0, $1
    FROM inbox_rows i JOIN d ON d.inbox_id = i.id JOIN unnest($36::bigint[], $37::text[]) AS f(n, destination) USING (n)
    ORDER BY d.n
)
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM token WHERE verdict = 'bad') THEN evotor_refuse('bad token')
    WHEN EXISTS (SELECT 1 FROM token WHERE verdict = 'expired') THEN evotor_refuse('expired token')
    WHEN EXISTS (SELECT 1 FROM named_stores s JOIN d USING (n) JOIN store_owners o USING (uuid) WHERE o.owner_id <> d.owner_id)
      OR EXISTS (SELECT 1 FROM named_receipts r JOIN d USING (n) JOIN receipt_owners o USING (id) WHERE o.owner_id <> d.owner_id)
      THEN evotor_refuse('not owner')
    WHEN EXISTS (SELECT 1 FROM named_stores WHERE uuid NOT IN (SELECT uuid FROM store_owners))
      OR EXISTS (SELECT 1 FROM named_receipts WHERE id NOT IN (SELECT id FROM receipt_owners))
      THEN evotor_refuse('retry')
END, ARRAY(SELECT id FROM fresh)`

// runsOfConcurrentInsert bounds the runs of receiptsStatement that meet rows committed during
// the run; each run sees the rows the previous one met, so a second is almost always enough.
const runsOfConcurrentInsert = 5

// receiptDelivery is one receipts notification on its way into receiptsStatement.
type receiptDelivery struct {
	ctx      context.Context // the request's: a delivery whose caller has gone is not written
	entry    InboxEntry
	token    usertoken.Check
	owner    string
	receipts []ReceiptRow // canonical ids, each id once
	done     chan receiptOutcome
}

type receiptOutcome struct {
	redelivery bool
	err        error
}

// storeReceipts runs receiptsStatement for a batch of deliveries on conn and tells each its
// outcome, and returns the batch's error. When the batch fails for any reason but a database that does not answer (most
// likely one delivery's: a refused token, another owner's receipt, a value PostgreSQL
// refuses), each delivery runs again alone, so only that one fails.
func (s *Store) storeReceipts(ctx context.Context, conns *receiptConns, batch []*receiptDelivery) error {
	fresh, err := s.runReceiptsStatement(ctx, conns, batch)
	if len(batch) > 1 && err != nil && !errors.Is(err, apperr.ErrUnavailable) {
		var unavailable error
		for _, d := range batch {
			if unavailable != nil { // the connection is likely broken: no more statements on it
				d.done <- receiptOutcome{err: unavailable}
			} else if err := s.storeReceipts(ctx, conns, []*receiptDelivery{d}); errors.Is(err, apperr.ErrUnavailable) {
				unavailable = err
			}
		}
		return unavailable
	}
	for _, d := range batch {
		out := receiptOutcome{err: err, redelivery: true}
		for _, r := range d.receipts {
			if fresh[r.ID] {
				out.redelivery = false
			}
		}
		if out.err == nil && !out.redelivery {
			d.entry.ForwardTo.committed()
		}
		d.done <- out
	}
	return err
}

// runReceiptsStatement runs the statement until it sees every row it met, and returns the ids
// of the receipts it inserted, or the refusal as an apperr error.
func (s *Store) runReceiptsStatement(ctx context.Context, conns *receiptConns, batch []*receiptDelivery) (map[string]bool, error) {
	conn, done, err := conns.forBatch(ctx, batch)
	if err != nil {
		return nil, err
	}
	defer done()
	args := receiptsArguments(batch, s.now())
	for range runsOfConcurrentInsert {
		var ids []string
		err = conn.Raw(func(driverConn any) error {
			var ok *int64
			return driverConn.(*stdlib.Conn).Conn().QueryRow(ctx, receiptsStatement, args...).Scan(&ok, &ids)
		})
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			fresh := make(map[string]bool, len(ids))
			for _, id := range ids {
				fresh[id] = true
			}
			return fresh, nil
		case !errors.As(err, &pgErr) || pgErr.Code != "EV001":
			return nil, s.translate(err)
		case pgErr.Message == "bad token":
			return nil, apperr.New(apperr.BadUserToken, "")
		case pgErr.Message == "expired token":
			return nil, apperr.New(apperr.ExpiredUserToken, "")
		case pgErr.Message == "not owner":
			return nil, ErrNotOwner
		}
	}
	return nil, fmt.Errorf("receipts: rows inserted concurrently, still unseen after %d runs: %w", runsOfConcurrentInsert, err)
}

// translate gives an error of a statement run outside GORM the meaning GORM's would have
// (a database that did not answer: apperr.Unavailable).
func (s *Store) translate(err error) error {
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok {
		return t.Translate(err)
	}
	return err
}

// receiptsArguments are receiptsStatement's parameters: deliveries, the stores they name,
// their receipts and items, and where they are forwarded, as column arrays; n numbers the
// deliveries from 1.
func receiptsArguments(batch []*receiptDelivery, now time.Time) []any {
	var (
		owners, operations, params                 []string
		users                                      []*string
		tokens, storeN, receiptN                   []int64
		cutoffs                                    []time.Time
		bodies                                     [][]byte
		rawAt, rawLength                           []int32
		stores                                     []string
		ids, receiptUUIDs, storeUUIDs, types       []string
		devices, employees, shifts, paymentSources []*string
		amounts, taxes, discounts                  []*string
		dateTimes                                  []*time.Time
		itemReceipts, itemUUIDs                    []string
		positions                                  []int32
		names, itemTypes, quantities, prices       []*string
		sums, itemTaxes, itemDiscounts             []*string
		forwardN                                   []int64
		destinations                               []string
	)
	for i, d := range batch {
		n := int64(i + 1)
		owners, operations, params, users = append(owners, d.owner), append(operations, d.entry.Operation), append(params, d.entry.PathParams), append(users, d.entry.EvotorUserID)
		tokens, cutoffs, bodies = append(tokens, d.token.ID), append(cutoffs, d.token.Cutoff), append(bodies, d.entry.Body)
		for _, dest := range d.entry.ForwardTo.Destinations {
			forwardN, destinations = append(forwardN, n), append(destinations, dest)
		}
		named := map[string]bool{}
		for _, r := range d.receipts {
			if r.StoreUUID != "" && !named[r.StoreUUID] {
				named[r.StoreUUID] = true
				storeN, stores = append(storeN, n), append(stores, r.StoreUUID)
			}
			receiptN, ids, receiptUUIDs, storeUUIDs, types = append(receiptN, n), append(ids, r.ID), append(receiptUUIDs, r.ReceiptUUID), append(storeUUIDs, r.StoreUUID), append(types, r.Type)
			devices, employees, shifts, paymentSources = append(devices, r.DeviceUUID), append(employees, r.EmployeeUUID), append(shifts, r.ShiftID), append(paymentSources, r.PaymentSource)
			amounts, taxes, discounts = append(amounts, r.TotalAmount), append(taxes, r.TotalTax), append(discounts, r.TotalDiscount)
			dateTimes, rawAt, rawLength = append(dateTimes, r.DateTime), append(rawAt, int32(r.BodyOffset)), append(rawLength, int32(len(r.Raw)))
			for pos, it := range r.Items {
				itemReceipts, positions, itemUUIDs = append(itemReceipts, r.ID), append(positions, int32(pos)), append(itemUUIDs, it.ItemUUID)
				names, itemTypes, quantities, prices = append(names, it.Name), append(itemTypes, it.ItemType), append(quantities, it.Quantity), append(prices, it.Price)
				sums, itemTaxes, itemDiscounts = append(sums, it.SumPrice), append(itemTaxes, it.Tax), append(itemDiscounts, it.Discount)
			}
		}
	}
	return []any{now, owners, tokens, cutoffs, operations, users, params, bodies,
		storeN, stores,
		receiptN, ids, receiptUUIDs, storeUUIDs, devices, employees, shifts, types, paymentSources,
		dateTimes, amounts, taxes, discounts, rawAt,
		itemReceipts, positions, itemUUIDs, names, itemTypes, quantities, prices, sums, itemTaxes, itemDiscounts,
		rawLength, forwardN, destinations}
}
