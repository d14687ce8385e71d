package storage

import (
	"cmp"
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Reading back what was stored, for the partner's admin API. Lists are keyset-paginated by
// their Evotor id, so pages are stable while deliveries keep arriving.

// RawItem is one stored object: its key and the JSON Evotor sent (nil for a store only
// referenced so far).
type RawItem struct {
	Key string
	Raw []byte
}

// Listing names what to list: a table of raw objects, its key column, and the filter.
type Listing struct {
	Table  string // one of the tables below; never user input
	Key    string
	Filter map[string]any
	Join   string // a table joined for Raw; "" for none
	Raw    string // the SQL of an item's JSON; "" for the raw column
}

// Listings of the owner-keyed tables.
func StoresOf(owner string) Listing {
	return Listing{Table: "stores", Key: "uuid", Filter: map[string]any{"owner_id": owner}}
}
func DevicesOf(owner string) Listing {
	return Listing{Table: "devices", Key: "uuid", Filter: map[string]any{"owner_id": owner}}
}
func EmployeesOf(owner string) Listing {
	return Listing{Table: "employees", Key: "uuid", Filter: map[string]any{"owner_id": owner}}
}
func ReceiptsOf(owner string) Listing {
	return Listing{Table: "receipts", Key: "receipts.id", Filter: map[string]any{"owner_id": owner},
		Join: "LEFT JOIN inbox ON inbox.id = receipts.inbox_id", Raw: receiptRaw}
}

// receiptRaw is a receipt's JSON: its own raw, or its span of the inbox row's body.
const receiptRaw = "CASE WHEN receipts.inbox_id IS NULL THEN receipts.raw ELSE substr(inbox.body, receipts.raw_at + 1, receipts.raw_length) END"

func ProductsOf(owner, store string) Listing {
	return Listing{Table: "products", Key: "uuid", Filter: map[string]any{"owner_id": owner, "store_uuid": evotor.CanonicalID(store)}}
}
func DocumentsOf(owner, store string) Listing {
	return Listing{Table: "documents", Key: "uuid", Filter: map[string]any{"owner_id": owner, "store_uuid": evotor.CanonicalID(store)}}
}

// List returns up to limit items with keys after `after`, in key order, and whether more follow.
func (s *Store) List(ctx context.Context, l Listing, after string, limit int) ([]RawItem, bool, error) {
	var items []RawItem
	raw := cmp.Or(l.Raw, "raw")
	q := s.db.WithContext(ctx).Table(l.Table).Select(l.Key + " AS key, " + raw + " AS raw").Where(l.Filter)
	if l.Join != "" {
		q = q.Joins(l.Join)
	}
	if after != "" {
		q = q.Where(l.Key+" > ?", after)
	}
	err := q.Order(l.Key).Limit(limit + 1).Scan(&items).Error
	if len(items) > limit {
		return items[:limit], true, err
	}
	return items, false, err
}

// InboxOf lists the deliveries stored for a user, newest first, with ids below before (0: from
// the newest).
func (s *Store) InboxOf(ctx context.Context, userID string, before int64, limit int) ([]InboxListed, bool, error) {
	var entries []InboxListed
	q := s.db.WithContext(ctx).Model(&InboxEntry{}).
		Select("id, operation, path_params, received_at, COALESCE(body_length, length(body)) AS body_bytes").Where("evotor_user_id = ?", userID)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	err := q.Order("id DESC").Limit(limit + 1).Scan(&entries).Error
	if len(entries) > limit {
		return entries[:limit], true, err
	}
	return entries, false, err
}

// InboxListed is an inbox row as listed: its body's size, not the body.
type InboxListed struct {
	ID         int64
	Operation  string
	PathParams string
	ReceivedAt time.Time
	BodyBytes  int64
}

// InboxBody is the body of the user's inbox row id; found is false when the user has none
// with this id.
func (s *Store) InboxBody(ctx context.Context, userID string, id int64) ([]byte, bool, error) {
	var rows []InboxEntry
	err := s.db.WithContext(ctx).Select("body").Where("id = ? AND evotor_user_id = ?", id, userID).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	body, err := InboxBodyOf(rows[0].Body)
	return body, true, err
}

// UserView is what is known of an Evotor user.
type UserView struct {
	Account       *Account
	HasCloudToken bool
	// CloudTokenValid: the cloud token held was not refused by Evotor (401) since it came.
	CloudTokenValid bool
	Installations   []Installation
	Subscriptions   []Subscription
}

// Known reports whether anything at all is known of the user.
func (v UserView) Known() bool {
	return v.Account != nil || v.HasCloudToken || len(v.Installations) > 0 || len(v.Subscriptions) > 0
}

// User gathers what is known of an Evotor user.
func (s *Store) User(ctx context.Context, userID string) (UserView, error) {
	var v UserView
	db := s.db.WithContext(ctx)
	acc, found, err := s.AccountByEvotorUser(ctx, userID)
	if err != nil {
		return v, err
	}
	if found {
		v.Account = &acc
	}
	var cloud CloudToken
	err = db.Select("evotor_user_id", "invalid_since").Where("evotor_user_id = ?", userID).Take(&cloud).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return v, err
	}
	v.HasCloudToken = err == nil
	v.CloudTokenValid = v.HasCloudToken && cloud.InvalidSince == nil
	if err := db.Where("evotor_user_id = ?", userID).Order("product_id").Find(&v.Installations).Error; err != nil {
		return v, err
	}
	v.Subscriptions, err = s.SubscriptionsOf(ctx, userID)
	return v, err
}
