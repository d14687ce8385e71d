// Package reconcile calls Evotor back: for one user, with the user's cloud token (unsealed only
// in memory, for the call), it lists the stores, smart terminals, employees and each store's
// products and groups through Evotor's REST API (impl/evotorapi) and brings our tables to what
// Evotor has.
//
// What it fetched is stored as if Evotor had notified it: each item is turned back into the
// webhook's shape, made a row by the webhook handlers' own functions (Rows), and written
// through the deliveries' application rules (impl/deliver: the payment policy, the store
// claims, the owner checks, one unit of work with its inbox entry and outbox). Only what
// differs from what is stored is written — a record the webhooks brought already is left
// alone, so nothing is stored or forwarded twice — and what is written is one inbox entry per
// kind (and store) under reconciliation's own operation names (reconcileStores,
// reconcileDevices, reconcileEmployees, reconcileProducts), forwarded as such: a receiver
// tells a missed webhook healed from a webhook by the operation. Records Evotor no longer
// lists are marked (missing_since), never deleted; seen again, the mark goes.
//
// A 401 from Evotor marks the user's cloud token invalid until user/token brings another; a
// user whose token is marked is not called again with it. The last sync of each user (state,
// times, counts, error — never a token) is kept in sync_states.
package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/deliver"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/evotorapi"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Operations are the inbox (and forwarded messages') operation names of what reconciliation
// found that the webhooks had missed.
const (
	OpStores    = "reconcileStores"
	OpDevices   = "reconcileDevices"
	OpEmployees = "reconcileEmployees"
	OpProducts  = "reconcileProducts"
)

// Rows make rows of items in the webhook's shape, as the webhook handlers do (impl.WebhookRows).
type Rows struct {
	Store    func(owner string, raw []byte) (storage.StoreRow, error)
	Device   func(owner string, raw []byte) (storage.DeviceRow, error)
	Employee func(owner string, raw []byte) (storage.EmployeeRow, error)
	Product  func(raw []byte) (storage.ProductRow, error) // owner and store are the delivery's
}

// Outcomes of a sync, as counted.
const (
	OutcomeSucceeded    = "succeeded"
	OutcomeFailed       = "failed"
	OutcomeTokenInvalid = "token_invalid" // Evotor answered 401 (or the token was marked so already)
	OutcomeNoToken      = "no_token"      // Evotor sent the user no cloud token
)

// Config is what a Service is built from.
type Config struct {
	Store  *storage.Store
	Sealer *sealer.Sealer
	Client *evotorapi.Client
	Rows   Rows
	Policy deliver.Policy
	Outbox func() storage.Outbox // where what is found is forwarded; nil: nowhere
	Logger *slog.Logger
	// Observe, when set, learns how each sync ended and how many records it changed.
	Observe func(outcome string, changed int64)
	// StaleAfter: a sync still marked running after this long is taken for one whose process
	// died, and another may start (default an hour, twice the periodic job's timeout).
	StaleAfter time.Duration
}

func (c Config) staleAfter() time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	return time.Hour
}

// Service syncs users with Evotor.
type Service struct {
	cfg        Config
	deliveries *deliver.Service
	users      sync.Map // user id → *sync.Mutex: one sync of a user at a time in this process
}

// New builds the service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, deliveries: deliver.New(deliver.Store(cfg.Store), cfg.Policy, cfg.Outbox)}
}

// errTokenMarked: the user's cloud token is marked invalid; Evotor is not called with it.
var errTokenMarked = errors.New("the cloud token was refused by Evotor (401) and is marked invalid until user/token brings another")

// errNoToken: Evotor has sent no cloud token for the user.
var errNoToken = errors.New("Evotor has sent no cloud token for this user (user/token)")

// Sync brings the user's stores, devices, employees and products to Evotor's state and
// returns the sync as recorded. A failure of Evotor's (or of a rule) is the sync's state, not
// an error; the error is for the sync that could not even be recorded.
func (s *Service) Sync(ctx context.Context, userID string) (storage.SyncState, error) {
	mu, _ := s.users.LoadOrStore(userID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	state, err := s.cfg.Store.StartSync(ctx, userID, s.cfg.staleAfter())
	if errors.Is(err, storage.ErrSyncRunning) {
		return state, nil // the running sync will tell (GET …/sync shows it running)
	}
	if err != nil {
		return state, err
	}
	run := &run{s: s, user: userID}
	err = run.sync(ctx)
	state.Fetched, state.Changed, state.Missing = run.fetched, run.changed, run.missing
	outcome := OutcomeSucceeded
	state.State = storage.SyncSucceeded
	if err != nil {
		state.State, outcome = storage.SyncFailed, OutcomeFailed
		switch {
		case errors.Is(err, evotorapi.ErrTokenInvalid):
			outcome = OutcomeTokenInvalid
			if merr := s.cfg.Store.MarkCloudTokenInvalid(ctx, userID); merr != nil {
				err = errors.Join(err, merr)
			}
		case errors.Is(err, errTokenMarked):
			outcome = OutcomeTokenInvalid
		case errors.Is(err, errNoToken):
			outcome = OutcomeNoToken
		}
		text := err.Error() // evotorapi's errors name no token; ours name none either
		state.Error = &text
		s.cfg.Logger.WarnContext(ctx, "sync with Evotor failed", "user", userID, "outcome", outcome, "error", text)
	}
	if s.cfg.Observe != nil {
		s.cfg.Observe(outcome, run.changed)
	}
	// Recorded even when ctx ended (a shutdown mid-sync): the state must not stay running.
	return s.cfg.Store.FinishSync(context.WithoutCancel(ctx), state)
}

// run is one sync of one user.
type run struct {
	s                         *Service
	user                      string
	session                   *evotorapi.Session
	fetched, changed, missing int64
}

func (r *run) sync(ctx context.Context) error {
	sealed, found, err := r.s.cfg.Store.CloudToken(ctx, r.user)
	if err != nil {
		return err
	}
	if !found {
		return errNoToken
	}
	if _, valid, err := r.s.cfg.Store.CloudTokenValid(ctx, r.user); err != nil {
		return err
	} else if !valid {
		return errTokenMarked
	}
	plain, err := r.s.cfg.Sealer.Open(sealed, r.user)
	if err != nil {
		return fmt.Errorf("opening the sealed cloud token: %w", err)
	}
	r.session = r.s.cfg.Client.Session(evotorapi.NewCloudToken(string(plain)))
	clear(plain)

	stores, unlisted, err := r.stores(ctx)
	if err != nil {
		return err
	}
	if err := r.devices(ctx); err != nil {
		return err
	}
	if err := r.employees(ctx); err != nil {
		return err
	}
	for _, store := range stores {
		if err := r.products(ctx, store, true); err != nil {
			return err
		}
	}
	for _, store := range unlisted { // a store Evotor no longer has has no products either
		if err := r.products(ctx, store, false); err != nil {
			return err
		}
	}
	return nil
}

// stores reconciles the user's stores and gives the ids Evotor listed and those of our stores
// it did not list.
func (r *run) stores(ctx context.Context) (listed, unlisted []string, err error) {
	// What is stored is read first: a store a webhook brings while Evotor is asked is then
	// neither stored before nor listed, and nothing marks it.
	stored, err := r.s.cfg.Store.OwnedStores(ctx, r.user)
	if err != nil {
		return nil, nil, err
	}
	items, err := fetch(r.session.Stores(ctx), kindStore)
	if err != nil {
		return nil, nil, fmt.Errorf("listing stores: %w", err)
	}
	err = reconcileKind(ctx, r, storage.TableStores, "", items, stored,
		func(raw []byte) (storage.StoreRow, error) { return r.s.cfg.Rows.Store(r.user, raw) },
		func(rows []storage.StoreRow, body []byte) error {
			_, err := r.s.deliveries.Stores(ctx, deliver.Fetched(r.user), deliver.Delivery{Operation: OpStores, Body: body}, rows)
			return err
		})
	for _, it := range items {
		listed = append(listed, it.id)
	}
	for _, st := range stored {
		if !slices.Contains(listed, st.UUID) {
			unlisted = append(unlisted, st.UUID)
		}
	}
	return listed, unlisted, err
}

func (r *run) devices(ctx context.Context) error {
	stored, err := r.s.cfg.Store.OwnedDevices(ctx, r.user) // first, as in stores
	if err != nil {
		return err
	}
	items, err := fetch(r.session.Devices(ctx, evotorapi.StoreFilter{}), kindDevice)
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	return reconcileKind(ctx, r, storage.TableDevices, "", items, stored,
		func(raw []byte) (storage.DeviceRow, error) { return r.s.cfg.Rows.Device(r.user, raw) },
		func(rows []storage.DeviceRow, body []byte) error {
			_, err := r.s.deliveries.Devices(ctx, deliver.Fetched(r.user), deliver.Delivery{Operation: OpDevices, Body: body}, rows)
			return err
		})
}

func (r *run) employees(ctx context.Context) error {
	stored, err := r.s.cfg.Store.OwnedEmployees(ctx, r.user) // first, as in stores
	if err != nil {
		return err
	}
	items, err := fetch(r.session.Employees(ctx, evotorapi.StoreFilter{}), kindEmployee)
	if err != nil {
		return fmt.Errorf("listing employees: %w", err)
	}
	return reconcileKind(ctx, r, storage.TableEmployees, "", items, stored,
		func(raw []byte) (storage.EmployeeRow, error) { return r.s.cfg.Rows.Employee(r.user, raw) },
		func(rows []storage.EmployeeRow, body []byte) error {
			var stores []string
			for _, row := range rows {
				var list []string
				_ = json.Unmarshal([]byte(row.Stores), &list) // written by the row function: a JSON array
				stores = append(stores, list...)
			}
			_, err := r.s.deliveries.Employees(ctx, deliver.Fetched(r.user), deliver.Delivery{Operation: OpEmployees, Body: body}, rows, stores)
			return err
		})
}

// products reconciles a store's products and groups (Evotor lists them apart; our products
// table holds both, as the createProducts webhook sends both); of a store Evotor did not list,
// every product is Evotor's no longer.
func (r *run) products(ctx context.Context, store string, listed bool) error {
	store = evotor.CanonicalID(store)
	stored, err := r.s.cfg.Store.StoreProducts(ctx, r.user, store) // first, as in stores
	if err != nil {
		return err
	}
	var items []fetched
	if listed {
		products, err := fetch(r.session.Products(ctx, store, evotorapi.ProductFilter{}), kindProduct)
		if err != nil {
			return fmt.Errorf("listing the products of store %s: %w", store, err)
		}
		groups, err := fetch(r.session.ProductGroups(ctx, store), kindGroup)
		if err != nil {
			return fmt.Errorf("listing the product groups of store %s: %w", store, err)
		}
		items = append(products, groups...)
	}
	return reconcileKind(ctx, r, storage.TableProducts, store, items, stored,
		func(raw []byte) (storage.ProductRow, error) {
			row, err := r.s.cfg.Rows.Product(raw)
			row.OwnerID, row.StoreUUID = r.user, store
			return row, err
		},
		func(rows []storage.ProductRow, body []byte) error {
			byRaw := make(map[string]storage.ProductRow, len(rows))
			for _, row := range rows {
				byRaw[string(row.Raw)] = row
			}
			items := make([][]byte, len(rows))
			for i, row := range rows {
				items[i] = row.Raw
			}
			d := deliver.Delivery{Operation: OpProducts, PathParams: map[string]string{"storeUuid": store}, Body: body}
			_, err := r.s.deliveries.Products(ctx, deliver.Fetched(r.user), d, store, items,
				func(raw []byte) (storage.ProductRow, error) { return byRaw[string(raw)], nil })
			return err
		})
}

// fetched is one record Evotor listed, in the webhook's shape.
type fetched struct {
	id        string // canonical
	raw       []byte
	described map[string]bool // the webhook members Evotor's API describes for it (fillFrom)
}

// fetch reads a whole listing (every page) and turns each item into the webhook's shape; an
// error anywhere is the listing's (nothing of a listing read in part is marked missing).
func fetch[T any](seq iter.Seq2[evotorapi.Item[T], error], k kind) ([]fetched, error) {
	var out []fetched
	described := describedMembers[T](k)
	for it, err := range seq {
		if err != nil {
			return nil, err
		}
		raw, err := webhookShape(k, it.Raw)
		if err != nil {
			return nil, err
		}
		if it.ID == "" {
			continue // no id to store it under (Evotor's ids are required; a webhook without one is refused too)
		}
		out = append(out, fetched{id: evotor.CanonicalID(it.ID), raw: raw, described: described})
	}
	return out, nil
}

// reconcileKind compares what Evotor listed with what is stored, writes what is new or
// changed through deliver (one delivery: the changed items as a JSON array), and marks what
// Evotor no longer lists (clearing the mark of what it lists again).
func reconcileKind[R any](ctx context.Context, r *run, table, store string, items []fetched, stored []R,
	build func(raw []byte) (R, error), write func(rows []R, body []byte) error) error {
	r.fetched += int64(len(items))
	held := make(map[string]*R, len(stored))
	for i := range stored {
		held[fieldsOf(&stored[i]).uuid()] = &stored[i]
	}
	var changed []R
	body := bytes.NewBufferString("[")
	listed := make(map[string]bool, len(items))
	for _, it := range items {
		if listed[it.id] {
			continue // listed twice (a page boundary moved): the first is Evotor's
		}
		listed[it.id] = true
		row, err := build(it.raw)
		if err != nil {
			return fmt.Errorf("%s %s: %w", table, it.id, err)
		}
		f := fieldsOf(&row)
		f.setUUID(it.id)
		if old, ok := held[it.id]; ok {
			f.fillFrom(fieldsOf(old), it.described)
			if f.sameAs(fieldsOf(old)) {
				continue // stored already as Evotor has it (a webhook brought it)
			}
		}
		if len(changed) > 0 {
			body.WriteByte(',')
		}
		body.Write(it.raw)
		changed = append(changed, row)
	}
	body.WriteByte(']')
	if len(changed) > 0 {
		if err := write(changed, body.Bytes()); err != nil {
			return fmt.Errorf("storing the %s Evotor lists: %w", table, err)
		}
		r.changed += int64(len(changed))
	}
	var gone, back []string
	for uuid, old := range held {
		f := fieldsOf(old)
		switch missing := f.missing(); {
		case !listed[uuid] && !missing:
			gone = append(gone, uuid)
		case listed[uuid] && missing:
			back = append(back, uuid)
		}
	}
	r.missing += int64(len(gone))
	return r.s.cfg.Store.MarkMissing(ctx, table, r.user, store, gone, back)
}
