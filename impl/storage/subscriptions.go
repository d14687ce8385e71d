package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/billing"
)

// SubscriptionEvent is one billing event, stored once.
type SubscriptionEvent struct {
	ID             int64 `gorm:"primaryKey"`
	EventKey       string
	SubscriptionID string
	SequenceNumber *int64
	EvotorUserID   string
	Type           string
	Body           []byte
	ReceivedAt     time.Time
}

// Subscription is the state folded from a subscription's events.
type Subscription struct {
	SubscriptionID       string `gorm:"primaryKey"`
	EvotorUserID         string
	ProductID            string
	Status               string
	TerminationRequested bool
	PlanID               *string
	DeviceNumber         *int64
	NextBillingDate      *string
	Addons               *string
	LastSequence         *int64
	UpdatedAt            time.Time
}

// subscriptionEventKey is the event's natural identity: subscriptionId:sequenceNumber, or a
// hash of the body when either is missing.
func subscriptionEventKey(subscriptionID string, seq *int64, body []byte) string {
	if subscriptionID != "" && seq != nil {
		return fmt.Sprintf("%s:%d", subscriptionID, *seq)
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SubscriptionEventResult says what RecordSubscriptionEvent did.
type SubscriptionEventResult int

const (
	EventApplied     SubscriptionEventResult = iota
	EventRedelivered                         // same key, same body: nothing changed
	EventKeyConflict                         // same key, different body: the first is kept
)

// SubscriptionRule is how a subscription's state follows from its events (the application
// passes billing's): Fold from all of them; Step from the state and one event numbered after
// all the others.
type SubscriptionRule struct {
	Fold func([]billing.Event) billing.State
	Step func(billing.State, billing.Event) billing.State
}

// RecordSubscriptionEvent stores the event once and saves its subscription's state: the store
// loads, locks and saves; it decides nothing itself. An event numbered after every stored one
// (Evotor's order) is stepped from the saved state, at a cost that does not grow with the
// subscription's history; one that is not (late, or without a number) is folded with all the
// events stored.
func (tx *Tx) RecordSubscriptionEvent(subscriptionID string, body []byte, rule SubscriptionRule) (SubscriptionEventResult, error) {
	ev, err := billing.ParseEvent(body)
	if err != nil {
		return 0, err
	}
	now := tx.store.now()
	// Take the subscription's row first, so concurrent events of one subscription fold in turn.
	sub := Subscription{SubscriptionID: subscriptionID, EvotorUserID: ev.UserID, ProductID: ev.ProductID,
		Status: billing.StatusPending, UpdatedAt: now}
	if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&sub).Error; err != nil {
		return 0, err
	}
	if err := tx.store.forUpdate(tx.db).Where("subscription_id = ?", subscriptionID).Take(&sub).Error; err != nil {
		return 0, err
	}
	key := subscriptionEventKey(subscriptionID, ev.SequenceNumber, body)
	row := SubscriptionEvent{EventKey: key, SubscriptionID: subscriptionID, SequenceNumber: ev.SequenceNumber,
		EvotorUserID: ev.UserID, Type: ev.Type, Body: body, ReceivedAt: now}
	res := tx.db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "event_key"}}, DoNothing: true}).Create(&row)
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected == 0 {
		var first SubscriptionEvent
		if err := tx.db.Where("event_key = ?", key).Take(&first).Error; err != nil {
			return 0, err
		}
		tx.Redelivery()
		if string(first.Body) != string(body) {
			return EventKeyConflict, nil
		}
		return EventRedelivered, nil
	}
	if err := noteUser(tx.db, ev.UserID, now); err != nil {
		return 0, err
	}
	inOrder, err := numberedLast(tx, subscriptionID, ev.SequenceNumber)
	if err != nil {
		return 0, err
	}
	var st billing.State
	if inOrder {
		st = rule.Step(sub.state(), ev)
	} else {
		var stored []SubscriptionEvent
		if err := tx.db.Where("subscription_id = ?", subscriptionID).Order("id").Find(&stored).Error; err != nil {
			return 0, err
		}
		events := make([]billing.Event, 0, len(stored))
		for _, s := range stored {
			if e, err := billing.ParseEvent(s.Body); err == nil {
				events = append(events, e)
			}
		}
		st = rule.Fold(events)
	}
	var addons *string
	if len(st.Addons) > 0 {
		a := string(st.Addons)
		addons = &a
	}
	return EventApplied, tx.db.Model(&Subscription{}).Where("subscription_id = ?", subscriptionID).Updates(map[string]any{
		"status": st.Status, "termination_requested": st.TerminationRequested, "plan_id": st.PlanID,
		"device_number": st.DeviceNumber, "next_billing_date": st.NextBillingDate, "addons": addons,
		"last_sequence": st.LastSequence, "updated_at": now,
	}).Error
}

// numberedLast reports whether the event just stored, numbered seq, has the highest number of
// its subscription's events (unknown types included, which the saved LastSequence does not
// count): read through the index on (subscription_id, sequence_number). A number is stored
// once per subscription (the event key), so no other event shares it.
func numberedLast(tx *Tx, subscriptionID string, seq *int64) (bool, error) {
	if seq == nil {
		return false, nil
	}
	var top []int64
	err := tx.db.Raw(`SELECT sequence_number FROM subscription_events WHERE subscription_id = ? AND sequence_number IS NOT NULL
		ORDER BY sequence_number DESC LIMIT 1`, subscriptionID).Scan(&top).Error
	return err == nil && len(top) == 1 && top[0] == *seq, err
}

// state is the subscription's saved state, as the rule folded it.
func (s Subscription) state() billing.State {
	st := billing.State{Status: s.Status, TerminationRequested: s.TerminationRequested, PlanID: s.PlanID,
		DeviceNumber: s.DeviceNumber, NextBillingDate: s.NextBillingDate, LastSequence: s.LastSequence}
	if s.Addons != nil {
		st.Addons = json.RawMessage(*s.Addons)
	}
	return st
}

// SubscriptionsOf lists a user's subscriptions.
func (s *Store) SubscriptionsOf(ctx context.Context, userID string) ([]Subscription, error) {
	var subs []Subscription
	err := s.db.WithContext(ctx).Where("evotor_user_id = ?", userID).Order("subscription_id").Find(&subs).Error
	return subs, err
}

// AllSubscriptionsTerminated reports whether the user has subscriptions and all have ended.
func (s *Store) AllSubscriptionsTerminated(ctx context.Context, userID string) (bool, error) {
	var total, ended int64
	db := s.db.WithContext(ctx)
	if err := db.Model(&Subscription{}).Where("evotor_user_id = ?", userID).Count(&total).Error; err != nil {
		return false, err
	}
	if err := db.Model(&Subscription{}).Where("evotor_user_id = ? AND status = ?", userID, billing.StatusTerminated).Count(&ended).Error; err != nil {
		return false, err
	}
	return total > 0 && total == ended, nil
}
