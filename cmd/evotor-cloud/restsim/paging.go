package restsim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// query is what one listing shows: a kind, where, and its filters. A series of pages keeps the
// query of its first request (the contract: the next page is the path with ?cursor= and nothing
// else), so the cursor carries it.
type query struct {
	User   string   `json:"u"`
	Kind   Kind     `json:"k"`
	Store  string   `json:"s,omitempty"` // the store of a store-scoped list; the store_id filter of devices and employees
	Device string   `json:"d,omitempty"` // documents of one smart terminal
	Since  *int64   `json:"f,omitempty"` // Unix ms: products changed, documents made, at or after it
	Until  *int64   `json:"t,omitempty"` // Unix ms: documents made before it
	Types  []string `json:"y,omitempty"` // document types
}

// cursor is where the next page starts: after the record placed at After, in the same query.
type cursor struct {
	Q     query  `json:"q"`
	After uint64 `json:"a"`
}

// encode makes the cursor opaque: base64 (with its +, / and =, as Evotor's cursors have, so a
// client that forgets to URL-encode it is caught).
func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.StdEncoding.EncodeToString(b)
}

var errBadCursor = errors.New("the cursor is not one this API gave for this list")

// decodeCursor reads a cursor given for the list q names (its user, kind and store).
func decodeCursor(s string, q query) (cursor, error) {
	var c cursor
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, errBadCursor
	}
	same := func(a, b string) bool { return evotor.CanonicalID(a) == evotor.CanonicalID(b) }
	if !same(c.Q.User, q.User) || c.Q.Kind != q.Kind || (q.Kind.storeScoped() && !same(c.Q.Store, q.Store)) ||
		!same(c.Q.Device, q.Device) {
		return c, errBadCursor
	}
	return c, nil
}

// matches says whether a record belongs in the query's list.
func (q query) matches(r *record) bool {
	if r.removed {
		return false
	}
	switch q.Kind {
	case KindDevice:
		return q.Store == "" || evotor.CanonicalID(r.rest.text("store_id")) == evotor.CanonicalID(q.Store)
	case KindEmployee:
		return q.Store == "" || slices.ContainsFunc(r.rest.strings("stores"), func(s string) bool {
			return evotor.CanonicalID(s) == evotor.CanonicalID(q.Store)
		})
	case KindProduct:
		return q.Since == nil || r.updated.UnixMilli() >= *q.Since
	case KindDocument:
		if q.Device != "" && evotor.CanonicalID(r.rest.text("device_id")) != evotor.CanonicalID(q.Device) {
			return false
		}
		if (q.Since != nil && r.madeAt < *q.Since) || (q.Until != nil && r.madeAt >= *q.Until) {
			return false
		}
		return len(q.Types) == 0 || slices.Contains(q.Types, r.rest.text("type"))
	}
	return true
}

// page is up to n records of the query after the record placed at after, as the API serves them
// in a list (documents without their body), and the place of the last one when more follow.
func (m *Model) page(q query, after uint64, n int) (items [][]byte, next uint64, err error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.user(q.User, false)
	if q.Kind.storeScoped() && (u == nil || !u.hasStore(q.Store)) {
		return nil, 0, errNoStore
	}
	if u == nil {
		return nil, 0, nil
	}
	c := u.collection(q.Kind, q.Store, false)
	if c == nil {
		return nil, 0, nil
	}
	var last uint64
	for _, r := range c.after(after) {
		if !q.matches(r) {
			continue
		}
		if len(items) == n {
			return items, last, nil // another one follows
		}
		if q.Kind == KindDocument {
			items = append(items, r.rest.marshal("body"))
		} else {
			items = append(items, r.rest.marshal())
		}
		last = r.seq
	}
	return items, 0, nil
}
