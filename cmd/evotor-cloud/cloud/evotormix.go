package cloud

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The evotor mix (`load --mix evotor`, `make soak`): what a partner's server gets from Evotor
// Cloud for a few merchants, in the proportions below. Evotor publishes no traffic figures;
// these follow from how its webhooks are made: every sale on a terminal is a receipt, so
// receipts dominate; product changes come in small batches as a merchant edits goods, mostly
// edits of existing ones; documents follow the shifts; inventory lists, subscription and
// installation events are rare; and Evotor re-sends whatever got no 200 in time, now and then
// twice at once.
//
// A large batch of products (a catalogue) comes when goods are loaded onto a terminal in bulk:
// a few times in a store's life. 2 in 1,000 (LoadOptions.Catalogues; receipts make up the
// difference) is still far more than that (at 200 requests a second, 34,560 catalogues a day,
// each store of the mix getting one every 50 s), enough for the catalogues to compete with
// everything else all the time. Its share is under 1 in 100 on purpose: a kind that is 1 in
// 100 sets the whole mix's p99 by itself, so the soak judges the catalogue by a goal of its own.
// Catalogues are spread evenly over the requests (catalogueSchedule), the other kinds drawn.
//
// The stores start as full as a real partner's (each user's first store has
// LoadOptions.LargeStore products, DefaultLargeStore unless set; the others evotorSetupStore)
// and grow over the run (each catalogue brings about 550 new products), so that a soak shows
// whether a request's cost grows with what is stored.
var evotorProportions = []evotorShare{
	{"receipt", 708},                 // a sale of 1–5 items in one of the user's stores
	{"products", 150},                // 1–5 products into a store: 4 in 5 edits (a new price) of one already sent, else new
	{"catalogue", DefaultCatalogues}, // 200–2,000 products into a store: half new, half sent before (1 in 10 of them changed)
	{"documents", 50},                // 1–3 documents of a store's terminal (sales, paybacks, cash in)
	{"stores", 10},                   // the user's whole list of stores, one renamed
	{"devices", 10},                  // the user's whole list of terminals, one renamed
	{"employees", 10},                // the user's whole list of employees, one renamed
	{"subscription", 20},             // the next event of the user's subscription: renewed, terms changed, add-ons
	{"installation", 10},             // the app installed again (a new event id)
	{"re-send", 20},                  // one of the last 1,000 requests (catalogues aside) sent again, byte for byte
	{"duplicate", 10},                // the request just sent, sent again at once
}

type evotorShare struct {
	kind    string
	per1000 int // requests of this kind in 1,000, on average
}

// evotorShares are evotorProportions with catalogues in 1,000 instead of the default, the
// difference made up by receipts.
func evotorShares(catalogues int) []evotorShare {
	shares := slices.Clone(evotorProportions)
	for i := range shares {
		switch shares[i].kind {
		case "catalogue":
			shares[i].per1000 = catalogues
		case "receipt":
			shares[i].per1000 += DefaultCatalogues - catalogues
		}
	}
	return shares
}

// The evotor mix's sizes.
const (
	DefaultCatalogues  = 2     // catalogues in 1,000 requests: the commands' default
	maxCatalogues      = 100   // LoadOptions.Catalogues at most
	DefaultLargeStore  = 20000 // products of each user's first store at the start (a supermarket), unless LoadOptions.LargeStore says
	evotorSetupStore   = 1000  // products of each other store at the start
	evotorSetupBatch   = 2000  // products per setup request
	evotorCatalogueMin = 200
	evotorCatalogueMax = 2000
	evotorResendWindow = 1000 // a re-send is one of the last this many requests
)

// evotorUser is one merchant of the mix: an Evotor user with its token, subscription and stores.
type evotorUser struct {
	id, auth              string
	subscription, product string
	seq                   int // the subscription's last sequence number
	stores                []*evotorStore
	lists                 int // inventory lists sent so far (each renames something)
}

// evotorStore is one store of a user, with its terminal, its cashier and every product sent to it.
type evotorStore struct {
	uuid, device, employee, group string
	products                      []evotorProduct
}

type evotorProduct struct {
	id            uuid.UUID
	code, kopecks int64
}

// evotorMix makes the mix's requests; only the sending loop calls it, one request at a time.
type evotorMix struct {
	rand     *rand.Rand
	shares   []evotorShare // evotorProportions with the catalogues asked for
	app      string        // the app credential's Authorization, for events
	users    []*evotorUser
	ops      map[string]Operation
	recent   []delivery // the last evotorResendWindow requests, catalogues and re-sends aside (a ring)
	sent     int        // requests put in recent so far
	previous *delivery  // the request just made (for a duplicate)
	nextCode int64
	made     int               // requests made so far
	catalog  catalogueSchedule // where the next catalogue goes
}

// Catalogues come evenly, not drawn like the other kinds: exactly one in each run of
// 1,000/per1000 requests, at a random place in it. Drawn, a minute's count varied like a
// Poisson variable (24 ± 5 at the default share and 200 requests a second), and as the
// catalogues set SQLite's p99, so did the minute's p99: a first minute light in catalogues made
// the minutes after it look grown. The soak compares minutes to find costs that grow with what
// is stored; each minute now brings the same number of catalogues (their sizes still drawn),
// so what differs between minutes is the history, not the draw.
type catalogueSchedule struct {
	run, at int // the run the next catalogue is in, and its request's number
	placed  bool
}

// due reports whether request i (counted from 0, one after another) is a catalogue, for
// catalogues per 1,000 requests.
func (c *catalogueSchedule) due(i, per1000 int, r *rand.Rand) bool {
	if per1000 <= 0 {
		return false
	}
	if !c.placed {
		c.place(per1000, r)
	}
	if i != c.at {
		return false
	}
	c.run++
	c.place(per1000, r)
	return true
}

func (c *catalogueSchedule) place(per1000 int, r *rand.Rand) {
	from, to := c.run*1000/per1000, (c.run+1)*1000/per1000
	c.at, c.placed = from+r.IntN(to-from), true
}

// evotorTraffic registers the mix's users, sends each its setup (subscription created,
// app installed, user/create, user/token, the lists of its stores, terminals and employees,
// evotorSetupProducts products into each store), and returns the mix's i-th request.
func (c *Cloud) evotorTraffic(ctx context.Context, o LoadOptions) (func(int) delivery, error) {
	ids, err := evotorUserIDs(o.UserID, o.Users)
	if err != nil {
		return nil, err
	}
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	m := &evotorMix{rand: rand.New(rand.NewPCG(seed, seed>>1)), shares: evotorShares(o.Catalogues), app: c.cfg.AppAuth,
		ops: map[string]Operation{}, nextCode: 1}
	for _, op := range Operations {
		m.ops[op.ID] = op
	}
	for _, id := range ids {
		u, err := c.evotorSetup(ctx, o, m, id)
		if err != nil {
			return nil, fmt.Errorf("setting up user %s: %w", id, err)
		}
		m.users = append(m.users, u)
	}
	return m.next, nil
}

// evotorUserIDs are n Evotor user IDs from first on: 01-000000000000001, 01-000000000000002, …
func evotorUserIDs(first string, n int) ([]string, error) {
	prefix, digits, ok := strings.Cut(first, "-")
	number, err := strconv.ParseUint(digits, 10, 64)
	if !ok || err != nil {
		return nil, fmt.Errorf("user ID %q: the evotor mix counts on from Evotor's form, 01-000000000000001", first)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%0*d", prefix, len(digits), number+uint64(i))
	}
	return ids, nil
}

func (c *Cloud) evotorSetup(ctx context.Context, o LoadOptions, m *evotorMix, id string) (*evotorUser, error) {
	send := func(d delivery) error {
		res := c.Send(ctx, d.op, d.store, d.body, d.auth)
		if o.OnAnswer != nil {
			o.OnAnswer(Answered{Kind: "setup", Operation: d.op.ID, Body: d.body, Status: statusKey(res, ctx)})
		}
		if res.Err != nil {
			return fmt.Errorf("%s: %w", d.op.ID, res.Err)
		}
		if res.Status != 200 {
			return fmt.Errorf("%s: status %d: %.200s", d.op.ID, res.Status, res.Body)
		}
		return nil
	}
	u := &evotorUser{id: id, subscription: uuid.NewString(), product: uuid.NewString(), seq: 1}
	app := m.app
	if err := send(delivery{"setup", m.ops["subscriptionEvent"], "", app, subscriptionEvent(u.subscription, id, u.product, 1,
		"SubscriptionCreated", `,"planId":"starter","trialPeriodDuration":"P14DT","deviceNumber":1`)}); err != nil {
		return nil, err
	}
	if err := send(delivery{"setup", m.ops["installationEvent"], "", app, installationEvent(id, u.product, "ApplicationInstalled")}); err != nil {
		return nil, err
	}
	token, err := c.userToken(ctx, id)
	if err != nil {
		return nil, err
	}
	u.auth = "Bearer " + token
	if err := send(delivery{"setup", m.ops["storeCloudToken"], "", app, fmt.Appendf(nil, `{"userId":%q,"token":%q}`, id, uuid.NewString())}); err != nil {
		return nil, err
	}
	for range max(o.Stores, 1) {
		u.stores = append(u.stores, &evotorStore{uuid: uuid.NewString(), device: uuid.NewString(), employee: uuid.NewString(), group: uuid.NewString()})
	}
	for _, kind := range []string{"stores", "devices", "employees"} {
		if err := send(m.list(u, kind)); err != nil {
			return nil, err
		}
	}
	for i, s := range u.stores {
		n := evotorSetupStore
		if i == 0 {
			n = o.LargeStore
		}
		body := append(groupJSON([]byte("["), s.group), ',') // the products' group first
		for sent := 0; sent < n; sent += evotorSetupBatch {
			if err := send(m.productsDelivery(u, s, "setup", m.newProducts(s, min(evotorSetupBatch, n-sent)), body)); err != nil {
				return nil, err
			}
			body = []byte("[")
		}
	}
	return u, nil
}

// next is the mix's next request: a catalogue where catalogueSchedule places one, else a kind
// drawn by evotorProportions; for a user and store drawn at random. It counts the requests
// itself (made): the history and the timed run each number theirs from 0.
func (m *evotorMix) next(int) delivery {
	kind := "catalogue"
	if !m.catalog.due(m.made, m.share("catalogue"), m.rand) {
		kind = m.kind()
	}
	m.made++
	u := m.users[m.rand.IntN(len(m.users))]
	s := u.stores[m.rand.IntN(len(u.stores))]
	var d delivery
	switch kind {
	case "re-send", "duplicate":
		d, ok := m.again(kind)
		if ok {
			return d
		}
		kind = "receipt" // nothing sent yet to send again
	}
	switch kind {
	case "products":
		d = m.products(u, s, 1+m.rand.IntN(5))
	case "catalogue":
		d = m.catalogue(u, s)
	case "documents":
		d = m.documents(u, s, 1+m.rand.IntN(3))
	case "stores", "devices", "employees":
		d = m.list(u, kind)
	case "subscription":
		d = m.subscriptionEvent(u)
	case "installation":
		d = delivery{kind, m.ops["installationEvent"], "", m.app, installationEvent(u.id, u.product, "ApplicationInstalled")}
	default:
		d = delivery{"receipt", m.ops["postReceipts"], "", u.auth, receiptWithItems(u.id, s.uuid, s.device, s.employee, 1+m.rand.IntN(5))}
	}
	m.remember(d)
	return d
}

// kind draws a kind of request other than a catalogue (catalogueSchedule places those) by the
// mix's shares.
func (m *evotorMix) kind() string {
	total := 0
	for _, p := range m.shares {
		if p.kind != "catalogue" {
			total += p.per1000
		}
	}
	n := m.rand.IntN(total)
	for _, p := range m.shares {
		if p.kind == "catalogue" {
			continue
		}
		if n < p.per1000 {
			return p.kind
		}
		n -= p.per1000
	}
	return m.shares[0].kind
}

// share is kind's requests in 1,000.
func (m *evotorMix) share(kind string) int {
	for _, p := range m.shares {
		if p.kind == kind {
			return p.per1000
		}
	}
	return 0
}

// remember keeps d for a later re-send (not a catalogue: a re-send is a small request).
func (m *evotorMix) remember(d delivery) {
	m.previous = &d
	if d.kind == "catalogue" {
		return
	}
	if len(m.recent) < evotorResendWindow {
		m.recent = append(m.recent, d)
	} else {
		m.recent[m.sent%evotorResendWindow] = d
	}
	m.sent++
}

// again is an earlier request sent again, byte for byte: one of the recent ones (re-send) or
// the one just made (duplicate).
func (m *evotorMix) again(kind string) (delivery, bool) {
	var d delivery
	switch {
	case kind == "duplicate" && m.previous != nil:
		d = *m.previous
	case kind == "re-send" && len(m.recent) > 0:
		d = m.recent[m.rand.IntN(len(m.recent))]
	default:
		return delivery{}, false
	}
	d.kind = kind
	return d, true
}

// productsDelivery is a products notification of items into s, after head (the body so far).
func (m *evotorMix) productsDelivery(u *evotorUser, s *evotorStore, kind string, items []evotorProduct, head []byte) delivery {
	b := head
	for _, p := range items {
		b = append(productJSON(b, p.id.String(), p.code, p.kopecks, s.group), ',')
	}
	b[len(b)-1] = ']'
	return delivery{kind, m.ops["createProducts"], s.uuid, u.auth, b}
}

// newProducts are n products new to s, now counted among its products.
func (m *evotorMix) newProducts(s *evotorStore, n int) []evotorProduct {
	items := make([]evotorProduct, n)
	for i := range items {
		items[i] = evotorProduct{id: uuid.New(), code: m.nextCode, kopecks: 5000 + m.rand.Int64N(100000)}
		m.nextCode++
	}
	s.products = append(s.products, items...)
	return items
}

// existing is one of s's products, changed (a new price) when change says so.
func (m *evotorMix) existing(s *evotorStore, change bool) evotorProduct {
	i := m.rand.IntN(len(s.products))
	if change {
		s.products[i].kopecks = 5000 + m.rand.Int64N(100000)
	}
	return s.products[i]
}

// products is a small batch: each product an edit of one of the store's (4 in 5) or new.
func (m *evotorMix) products(u *evotorUser, s *evotorStore, n int) delivery {
	items := make([]evotorProduct, 0, n)
	for range n {
		if m.rand.IntN(5) == 0 || len(s.products) == 0 {
			items = append(items, m.newProducts(s, 1)...)
		} else {
			items = append(items, m.existing(s, true))
		}
	}
	return m.productsDelivery(u, s, "products", items, []byte("["))
}

// catalogue is a large batch: half new products, half the store's own sent again (1 in 10 of
// them changed), in random order.
func (m *evotorMix) catalogue(u *evotorUser, s *evotorStore) delivery {
	n := evotorCatalogueMin + m.rand.IntN(evotorCatalogueMax-evotorCatalogueMin+1)
	items := make([]evotorProduct, 0, n)
	for range n / 2 {
		items = append(items, m.existing(s, m.rand.IntN(10) == 0))
	}
	items = append(items, m.newProducts(s, n-len(items))...)
	m.rand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	return m.productsDelivery(u, s, "catalogue", items, []byte("["))
}

var documentTypes = []string{"SELL", "SELL", "SELL", "PAYBACK", "CASH_INCOME"}

// documents are n documents the store's terminal saved in one shift.
func (m *evotorMix) documents(u *evotorUser, s *evotorStore, n int) delivery {
	b, session := []byte("["), uuid.NewString()
	for i := range n {
		b = append(documentJSON(b, documentTypes[m.rand.IntN(len(documentTypes))], 1+i, s.device, session, s.employee), ',')
	}
	b[len(b)-1] = ']'
	return delivery{"documents", m.ops["putDocuments"], s.uuid, u.auth, b}
}

// list is the user's whole list of stores, terminals or employees; each list renames one
// element (the names carry the list's number), so each says something new.
func (m *evotorMix) list(u *evotorUser, kind string) delivery {
	u.lists++
	renamed := u.lists % len(u.stores)
	name := func(base string, i int) string {
		if i == renamed {
			return fmt.Sprintf("%s %d (правка %d)", base, i+1, u.lists)
		}
		return fmt.Sprintf("%s %d", base, i+1)
	}
	b := []byte("[")
	for i, s := range u.stores {
		switch kind {
		case "stores":
			b = storeJSON(b, s.uuid, name("Магазин", i))
		case "devices":
			b = deviceJSON(b, s.device, name("Касса", i), s.uuid)
		default:
			b = employeeJSON(b, s.employee, name("Кассир", i), s.uuid)
		}
		b = append(b, ',')
	}
	b[len(b)-1] = ']'
	op := map[string]string{"stores": "putStores", "devices": "putDevices", "employees": "putEmployees"}[kind]
	return delivery{kind, m.ops[op], "", u.auth, b}
}

// subscriptionEvent is the user's subscription's next event.
func (m *evotorMix) subscriptionEvent(u *evotorUser) delivery {
	u.seq++
	var typ, extra string
	switch u.seq % 3 {
	case 0:
		typ, extra = "SubscriptionRenewed", fmt.Sprintf(`,"nextBillingDate":%q`, evotorTime(time.Now().AddDate(0, 1, 0)))
	case 1:
		typ, extra = "SubscriptionTermsChanged", fmt.Sprintf(`,"planId":"pro","deviceNumber":%d`, 1+u.seq%5)
	default:
		typ, extra = "AddonsUpdated", fmt.Sprintf(`,"addons":[{"id":"extra-device","quantity":%d}]`, 1+u.seq%3)
	}
	return delivery{"subscription", m.ops["subscriptionEvent"], "", m.app, subscriptionEvent(u.subscription, u.id, u.product, u.seq, typ, extra)}
}
