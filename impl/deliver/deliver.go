// Package deliver is the application layer of what Evotor sends (events and notifications):
// the rules each delivery obeys — who may send it (the payment policy; the user token
// confirmed inside the delivery's own transaction, however it was authenticated), which stores
// it claims for its sender, what it writes, that a re-sent one changes nothing, and where it is
// forwarded — in one unit of work: the inbox entry, the domain writes and the outbox commit
// together or not at all. Handlers translate the generated types into its calls; a storage
// adapter implements its Repository and UnitOfWork and decides nothing of this.
package deliver

import (
	"context"
	"encoding/json"
	"iter"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/billing"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/installation"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// UnitOfWork is one delivery's transaction, as the rules use it.
type UnitOfWork interface {
	// Admit refuses the delivery when its user token (nil: none to confirm) no longer
	// authenticates, then makes the stores the owner's (apperr.ErrNotOwner when one is another
	// user's).
	Admit(token *usertoken.Check, owner string, stores ...string) error
	UpsertStores([]storage.StoreRow) error
	UpsertDevices([]storage.DeviceRow) error
	UpsertEmployees([]storage.EmployeeRow) error
	UpsertProducts(owner, store string, items [][]byte, row func(raw []byte) (storage.ProductRow, error)) error
	UpsertDocuments(iter.Seq2[storage.DocumentRow, error]) error
	// RecordSubscriptionEvent stores the event once and saves the state rule folds.
	RecordSubscriptionEvent(subscriptionID string, body []byte, rule storage.SubscriptionRule) (storage.SubscriptionEventResult, error)
	// RecordInstallationEvent stores the event once and saves what rule decides (nil: nothing).
	RecordInstallationEvent(ev storage.InstallationEvent, rule storage.InstallationRule) error
	// InsertReceipts stores each receipt not stored yet (a receipt of another owner:
	// apperr.ErrNotOwner); a delivery whose receipts were all stored already is a re-send.
	InsertReceipts([]storage.ReceiptRow) error
	// IsRedelivery reports whether the delivery was found applied already (no inbox row).
	IsRedelivery() bool
}

// Repository is persistence as deliveries need it.
type Repository interface {
	// Accept runs apply and writes the inbox entry (and its outbox) in one transaction.
	Accept(ctx context.Context, entry storage.InboxEntry, apply func(UnitOfWork) error) error
	// BatchesReceipts reports whether the adapter has a fast path for receipts deliveries,
	// and BatchReceipts takes it: the receipts rule (Service.Receipts) in one round trip.
	BatchesReceipts() bool
	BatchReceipts(ctx context.Context, entry storage.InboxEntry, token usertoken.Check, owner string, receipts []storage.ReceiptRow) (redelivery bool, err error)
	// AllSubscriptionsTerminated reports whether every subscription of the user has ended.
	AllSubscriptionsTerminated(ctx context.Context, userID string) (bool, error)
}

// Store is the storage adapter as a Repository.
func Store(st *storage.Store) Repository { return storeRepository{st} }

type storeRepository struct{ *storage.Store }

func (r storeRepository) Accept(ctx context.Context, entry storage.InboxEntry, apply func(UnitOfWork) error) error {
	return r.Store.Accept(ctx, entry, func(tx *storage.Tx) error { return apply(tx) })
}

// Policy is how the partner runs its business with Evotor's users.
type Policy struct {
	// RequireActiveSubscription: notifications of a user whose subscriptions all ended are
	// refused with 402 1004.
	RequireActiveSubscription bool
}

// Service applies the rules.
type Service struct {
	repo   Repository
	policy Policy
	outbox func() storage.Outbox // where deliveries are forwarded; nil: nowhere
}

// New builds the service over repo; outbox (nil: none) says where deliveries are forwarded.
func New(repo Repository, policy Policy, outbox func() storage.Outbox) *Service {
	return &Service{repo: repo, policy: policy, outbox: outbox}
}

// Delivery is what Evotor sent: its operation, the user it is about, its path parameters and
// its body exactly as received.
type Delivery struct {
	Operation  string
	UserID     string
	PathParams map[string]string
	Body       []byte
}

// Sender is who sent a notification: the Evotor user behind the user token, and the token to
// confirm in the delivery's transaction.
type Sender struct {
	UserID string
	Token  usertoken.Check
	// fetched: what reconciliation read from Evotor's API with the user's cloud token (see
	// Fetched): no user token sent it, so none is confirmed; every other rule applies.
	fetched bool
}

// Fetched is the sender of what reconciliation read from Evotor's REST API for the user (with
// the user's cloud token): stored through the same rules as a notification (the payment
// policy, the store claims, each record once, forwarded), with no user token to confirm.
func Fetched(userID string) Sender { return Sender{UserID: userID, fetched: true} }

// entry is the inbox row of a delivery, with where it is forwarded.
func (s *Service) entry(d Delivery) (storage.InboxEntry, error) {
	if d.PathParams == nil {
		d.PathParams = map[string]string{} // stored as {}: the admin API promises an object
	}
	params, err := json.Marshal(d.PathParams)
	if err != nil {
		return storage.InboxEntry{}, err
	}
	entry := storage.InboxEntry{Operation: d.Operation, PathParams: string(params), Body: d.Body}
	if d.UserID != "" {
		entry.EvotorUserID = &d.UserID
	}
	if s.outbox != nil {
		entry.ForwardTo = s.outbox()
	}
	return entry, nil
}

// event stores an app-token delivery: apply's writes and the inbox entry in one transaction.
func (s *Service) event(ctx context.Context, d Delivery, apply func(UnitOfWork) error) (redelivery bool, err error) {
	entry, err := s.entry(d)
	if err != nil {
		return false, err
	}
	err = s.repo.Accept(ctx, entry, func(uow UnitOfWork) error {
		err := apply(uow)
		redelivery = uow.IsRedelivery()
		return err
	})
	return redelivery, err
}

// notification stores a user-token delivery on behalf of its sender, once the payment policy
// lets them: the token confirmed and the stores it names claimed for the sender (Admit), then
// apply's writes, in one transaction.
func (s *Service) notification(ctx context.Context, from Sender, d Delivery, stores []string, apply func(UnitOfWork) error) (bool, error) {
	if err := s.mayNotify(ctx, from); err != nil {
		return false, err
	}
	d.UserID = from.UserID
	var token *usertoken.Check
	if !from.fetched {
		token = &from.Token
	}
	return s.event(ctx, d, func(uow UnitOfWork) error {
		if err := uow.Admit(token, from.UserID, stores...); err != nil {
			return err
		}
		return apply(uow)
	})
}

// mayNotify is the payment policy. It fails closed: without a sender nothing is written.
func (s *Service) mayNotify(ctx context.Context, from Sender) error {
	if from.UserID == "" {
		return apperr.New(apperr.BadUserToken, "")
	}
	if s.policy.RequireActiveSubscription {
		ended, err := s.repo.AllSubscriptionsTerminated(ctx, from.UserID)
		if err != nil {
			return err
		}
		if ended {
			return &apperr.Error{Kind: apperr.PaymentRequired, Subject: "userUuid", Value: from.UserID}
		}
	}
	return nil
}

// subscriptionRule is billing's: how a subscription's state follows from its events.
var subscriptionRule = storage.SubscriptionRule{Fold: billing.Fold, Step: billing.Step}

// SubscriptionEvent stores a billing event once (by subscription and sequence number) and
// updates the subscription's state; result says whether it was new, a re-send, or a re-send
// with another body (the first is kept).
func (s *Service) SubscriptionEvent(ctx context.Context, d Delivery, subscriptionID string) (result storage.SubscriptionEventResult, redelivery bool, err error) {
	redelivery, err = s.event(ctx, d, func(uow UnitOfWork) error {
		result, err = uow.RecordSubscriptionEvent(subscriptionID, d.Body, subscriptionRule)
		return err
	})
	return result, redelivery, err
}

// InstallationEvent stores an install or uninstall once (by its id); the newest event decides
// the installation, and an uninstall revokes the user's tokens.
func (s *Service) InstallationEvent(ctx context.Context, d Delivery, ev storage.InstallationEvent) (bool, error) {
	var rule storage.InstallationRule = installation.Apply
	if !installation.Decides(ev.Type) {
		rule = nil // an event of an unknown type is kept and decides nothing
	}
	return s.event(ctx, d, func(uow UnitOfWork) error { return uow.RecordInstallationEvent(ev, rule) })
}

// Stores upserts the sender's stores.
func (s *Service) Stores(ctx context.Context, from Sender, d Delivery, rows []storage.StoreRow) (bool, error) {
	return s.notification(ctx, from, d, nil, func(uow UnitOfWork) error { return uow.UpsertStores(rows) })
}

// Devices upserts the sender's smart terminals; the stores they name become the sender's.
func (s *Service) Devices(ctx context.Context, from Sender, d Delivery, rows []storage.DeviceRow) (bool, error) {
	var stores []string
	for _, r := range rows {
		if r.StoreUUID != nil {
			stores = append(stores, *r.StoreUUID)
		}
	}
	return s.notification(ctx, from, d, stores, func(uow UnitOfWork) error { return uow.UpsertDevices(rows) })
}

// Employees upserts the sender's employees; the stores they name become the sender's.
func (s *Service) Employees(ctx context.Context, from Sender, d Delivery, rows []storage.EmployeeRow, stores []string) (bool, error) {
	return s.notification(ctx, from, d, stores, func(uow UnitOfWork) error { return uow.UpsertEmployees(rows) })
}

// Products upserts a catalogue of one of the sender's stores (the path's store, claimed
// first), item by item as the items come.
func (s *Service) Products(ctx context.Context, from Sender, d Delivery, store string, items [][]byte, row func(raw []byte) (storage.ProductRow, error)) (bool, error) {
	store = evotor.CanonicalID(store)
	return s.notification(ctx, from, d, []string{store}, func(uow UnitOfWork) error {
		return uow.UpsertProducts(from.UserID, store, items, row)
	})
}

// Documents upserts documents of one of the sender's stores (the path's store, claimed first),
// each kept whole.
func (s *Service) Documents(ctx context.Context, from Sender, d Delivery, store string, documents iter.Seq2[storage.DocumentRow, error]) (bool, error) {
	return s.notification(ctx, from, d, []string{evotor.CanonicalID(store)}, func(uow UnitOfWork) error {
		return uow.UpsertDocuments(documents)
	})
}

// Receipts stores each receipt once (by its event id), with its items, and claims the stores
// they name for the sender. A delivery whose receipts were all stored already is a re-send.
// Receipts are the hot path: an adapter with a fast path for them (one statement for a batch
// of deliveries) takes it, under the same rule; the contract suite holds both to it.
func (s *Service) Receipts(ctx context.Context, from Sender, d Delivery, rows []storage.ReceiptRow) (bool, error) {
	if err := s.mayNotify(ctx, from); err != nil {
		return false, err
	}
	d.UserID = from.UserID
	entry, err := s.entry(d)
	if err != nil {
		return false, err
	}
	if s.repo.BatchesReceipts() {
		return s.repo.BatchReceipts(ctx, entry, from.Token, from.UserID, rows)
	}
	stores := make([]string, len(rows))
	for i, r := range rows {
		stores[i] = r.StoreUUID
	}
	return s.event(ctx, d, func(uow UnitOfWork) error {
		if err := uow.Admit(&from.Token, from.UserID, stores...); err != nil {
			return err
		}
		return uow.InsertReceipts(rows)
	})
}
