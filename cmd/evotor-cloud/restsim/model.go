package restsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Model is what Evotor Cloud knows of its users, as the simulator's REST API serves it: per
// Evotor user, their stores, smart terminals and employees, and per store its products,
// product groups and documents. It is fed with what the simulated Cloud sends as webhooks
// (Recorder does it), and directly: a record put here and never sent is a webhook the partner
// missed. Safe for concurrent use.
//
// Every Put upserts by id (as the partner server does): a record put again is replaced in its
// place in the lists and keeps its created_at; its updated_at becomes now.
type Model struct {
	now func() time.Time

	mu    sync.RWMutex
	seq   uint64 // the last record's place in the lists (cursors point after one)
	users map[string]*userData
}

// NewModel is an empty model; now is its clock (nil: time.Now).
func NewModel(now func() time.Time) *Model {
	if now == nil {
		now = time.Now
	}
	return &Model{now: now, users: map[string]*userData{}}
}

// Record is one record as the model holds it.
type Record struct {
	Kind    Kind
	ID      string
	StoreID string          // the store of a product, group or document
	JSON    json.RawMessage // as the API serves it (a document with its body)
	Webhook json.RawMessage // the item as the webhook carried it; nil when written through the API
	Created time.Time
	Updated time.Time
}

type userData struct {
	id                         string
	stores, devices, employees collection
	shops                      map[string]*shop // each store's catalogue and documents, by store key
	bulks                      map[string]object
}

type shop struct {
	id                          string
	products, groups, documents collection
}

func (u *userData) shop(store string, create bool) *shop {
	key := evotor.CanonicalID(store)
	s := u.shops[key]
	if s == nil && create {
		s = &shop{id: store}
		u.shops[key] = s
	}
	return s
}

// collection returns the records of one kind (nil for a store-scoped kind of an unknown store).
func (u *userData) collection(k Kind, store string, create bool) *collection {
	switch k {
	case KindStore:
		return &u.stores
	case KindDevice:
		return &u.devices
	case KindEmployee:
		return &u.employees
	}
	s := u.shop(store, create)
	if s == nil {
		return nil
	}
	switch k {
	case KindProduct:
		return &s.products
	case KindProductGroup:
		return &s.groups
	}
	return &s.documents
}

// hasStore: the store is in the user's list, or something was put into it.
func (u *userData) hasStore(store string) bool {
	return u.stores.find(store) != nil || u.shop(store, false) != nil
}

func (m *Model) user(id string, create bool) *userData {
	key := evotor.CanonicalID(id)
	u := m.users[key]
	if u == nil && create {
		u = &userData{id: id, shops: map[string]*shop{}, bulks: map[string]object{}}
		m.users[key] = u
	}
	return u
}

// record is one record: its place in the lists and its view in the API's shape.
type record struct {
	seq              uint64
	id, key          string
	rest             object
	webhook          []byte
	created, updated time.Time
	madeAt           int64 // documents: when made (close_date), Unix ms
	removed          bool
}

// collection is the records of one kind, in the order they were first put.
type collection struct {
	order []*record // ascending seq; removed records are skipped until compacted
	byKey map[string]*record
	dead  int
}

func (c *collection) find(id string) *record { return c.byKey[evotor.CanonicalID(id)] }

func (c *collection) add(r *record) {
	if c.byKey == nil {
		c.byKey = map[string]*record{}
	}
	c.byKey[r.key] = r
	c.order = append(c.order, r)
}

func (c *collection) remove(id string) bool {
	r := c.find(id)
	if r == nil {
		return false
	}
	delete(c.byKey, r.key)
	r.removed = true
	if c.dead++; c.dead > 64 && c.dead > len(c.order)/2 {
		c.order = slices.DeleteFunc(c.order, func(r *record) bool { return r.removed })
		c.dead = 0
	}
	return true
}

// after is the records placed after seq, in order (removed ones included: skip them).
func (c *collection) after(seq uint64) []*record {
	i := sort.Search(len(c.order), func(i int) bool { return c.order[i].seq > seq })
	return c.order[i:]
}

func (c *collection) len() int { return len(c.byKey) }

// timeLayout is how Evotor's API writes times (2018-04-17T10:11:49.393+0000).
const timeLayout = "2006-01-02T15:04:05.000-0700"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// upsert stores one item (in the API's shape already) of kind k; the caller holds m.mu.
func (m *Model) upsert(u *userData, k Kind, store string, rest object, webhook []byte) *record {
	c := u.collection(k, store, true)
	id := rest.text("id")
	now := m.now()
	r := c.find(id)
	if r == nil {
		m.seq++
		r = &record{seq: m.seq, id: id, key: evotor.CanonicalID(id), created: now}
		c.add(r)
	}
	r.updated, r.webhook = now, webhook
	if k.storeScoped() {
		rest.setString("store_id", u.shop(store, false).id)
	}
	rest.setString("user_id", u.id)
	rest.setString("created_at", formatTime(r.created))
	rest.setString("updated_at", formatTime(now))
	r.rest = rest
	if k == KindDocument {
		r.madeAt = now.UnixMilli()
		if t, err := evotor.ParseMoment(rest.text("close_date")); err == nil {
			r.madeAt = t.UnixMilli()
		}
	}
	return r
}

// put stores a webhook's items of kind k (products and groups told apart by "group": true).
func (m *Model) put(user string, k Kind, store string, body []byte) error {
	if user == "" {
		return errors.New("no Evotor user")
	}
	if k.storeScoped() && store == "" {
		return fmt.Errorf("%ss: no store", k)
	}
	items, err := parseItems(body)
	if err != nil {
		return fmt.Errorf("%ss: %w", k, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, true)
	if k.storeScoped() {
		u.shop(store, true)
	}
	skipped := 0
	for _, it := range items {
		kind := k
		if v, ok := it.obj.get("group"); k == KindProduct && ok && string(v) == "true" {
			kind = KindProductGroup
		}
		rest := restShape(kind, it.obj)
		if rest.text("id") == "" {
			skipped++
			continue
		}
		m.upsert(u, kind, store, rest, it.raw)
	}
	if skipped > 0 {
		return fmt.Errorf("%ss: %d of %d items without an id were not recorded", k, skipped, len(items))
	}
	return nil
}

// PutStores records the user's stores, as a putStores webhook carries them (an array).
func (m *Model) PutStores(user string, body []byte) error { return m.put(user, KindStore, "", body) }

// PutDevices records the user's smart terminals, as a putDevices webhook carries them.
func (m *Model) PutDevices(user string, body []byte) error { return m.put(user, KindDevice, "", body) }

// PutEmployees records the user's employees, as a putEmployees webhook carries them.
func (m *Model) PutEmployees(user string, body []byte) error {
	return m.put(user, KindEmployee, "", body)
}

// PutProducts records products and product groups (`"group": true`) of a store, as a
// createProducts webhook carries them.
func (m *Model) PutProducts(user, store string, body []byte) error {
	return m.put(user, KindProduct, store, body)
}

// PutDocuments records documents of a store, as a putDocuments webhook carries them.
func (m *Model) PutDocuments(user, store string, body []byte) error {
	return m.put(user, KindDocument, store, body)
}

// webhookKinds are the webhooks (the partner contract's operationIds) that carry records.
var webhookKinds = map[string]Kind{"putStores": KindStore, "putDevices": KindDevice, "putEmployees": KindEmployee,
	"createProducts": KindProduct, "putDocuments": KindDocument}

// PutWebhook records the body of a webhook by its operationId (putStores, putDevices,
// putEmployees, createProducts, putDocuments; store is the path's storeUuid for the last two).
// Other operations carry no records: ok is false and nothing is done.
func (m *Model) PutWebhook(user, op, store string, body []byte) (ok bool, err error) {
	k, ok := webhookKinds[op]
	if !ok {
		return false, nil
	}
	return true, m.put(user, k, store, body)
}

// Remove deletes a record, as Evotor does when a merchant deletes it (no webhook tells the
// partner). It reports whether there was one.
func (m *Model) Remove(user string, k Kind, store, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.user(user, false)
	if u == nil {
		return false
	}
	c := u.collection(k, store, false)
	return c != nil && c.remove(id)
}

// Records lists a user's records of kind k (of store, for products, groups and documents),
// in the API's order.
func (m *Model) Records(user string, k Kind, store string) []Record {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.user(user, false)
	if u == nil {
		return nil
	}
	c := u.collection(k, store, false)
	if c == nil {
		return nil
	}
	var out []Record
	for _, r := range c.after(0) {
		if !r.removed {
			out = append(out, r.public(k))
		}
	}
	return out
}

func (r *record) public(k Kind) Record {
	return Record{Kind: k, ID: r.id, StoreID: r.rest.text("store_id"), JSON: r.rest.marshal(), Webhook: r.webhook,
		Created: r.created, Updated: r.updated}
}

// Users lists the users the model knows, in no particular order.
func (m *Model) Users() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, u.id)
	}
	return out
}

// StoreIDs lists a user's stores: those in the list of stores, then those only written into
// (products or documents of a store whose list never came).
func (m *Model) StoreIDs(user string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.user(user, false)
	if u == nil {
		return nil
	}
	var out []string
	for _, r := range u.stores.after(0) {
		if !r.removed {
			out = append(out, r.id)
		}
	}
	var extra []string
	for key, s := range u.shops {
		if u.stores.byKey[key] == nil {
			extra = append(extra, s.id)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}
