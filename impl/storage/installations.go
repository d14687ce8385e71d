package storage

import (
	"time"

	"github.com/evotor-partner/evotor-partner/impl/installation"

	"gorm.io/gorm/clause"
)

// InstallationEvent is one ApplicationInstalled / ApplicationUninstalled, stored once by id.
type InstallationEvent struct {
	EventID      string `gorm:"primaryKey"`
	EvotorUserID string
	ProductID    string
	Type         string
	OccurredMs   int64
	Body         []byte
	ReceivedAt   time.Time
}

// Installation is whether the user has the application installed, by the latest event.
type Installation struct {
	EvotorUserID string `gorm:"primaryKey"`
	ProductID    string `gorm:"primaryKey"`
	Installed    bool
	LastEventMs  int64
	UpdatedAt    time.Time
}

// InstallationRule decides what an installation event does to the installation (the
// application passes installation.Apply).
type InstallationRule func(installation.State, installation.Event) installation.Outcome

// RecordInstallationEvent stores the event once (by id) and, unless rule is nil, applies rule
// to the (user, product) installation under a row lock: the store loads, locks and saves what
// the rule decides (a new state, the user's tokens revoked); it decides nothing itself.
func (tx *Tx) RecordInstallationEvent(ev InstallationEvent, rule InstallationRule) error {
	ev.ReceivedAt = tx.store.now()
	res := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&ev)
	if res.Error != nil || res.RowsAffected == 0 {
		if res.Error == nil {
			tx.Redelivery()
		}
		return res.Error
	}
	if err := noteUser(tx.db, ev.EvotorUserID, ev.ReceivedAt); err != nil {
		return err
	}
	if rule == nil {
		return nil // stored, no state change
	}
	inst := Installation{EvotorUserID: ev.EvotorUserID, ProductID: ev.ProductID, LastEventMs: -1 << 63, UpdatedAt: ev.ReceivedAt}
	if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&inst).Error; err != nil {
		return err
	}
	if err := tx.store.forUpdate(tx.db).Where("evotor_user_id = ? AND product_id = ?", ev.EvotorUserID, ev.ProductID).Take(&inst).Error; err != nil {
		return err
	}
	before := installation.State{Known: inst.LastEventMs != -1<<63, Installed: inst.Installed, LastEventMs: inst.LastEventMs}
	out := rule(before, installation.Event{Type: ev.Type, OccurredMs: ev.OccurredMs})
	if !out.Changed {
		return nil
	}
	if err := tx.db.Model(&inst).Where("evotor_user_id = ? AND product_id = ?", ev.EvotorUserID, ev.ProductID).
		Updates(map[string]any{"installed": out.Next.Installed, "last_event_ms": out.Next.LastEventMs, "updated_at": ev.ReceivedAt}).Error; err != nil {
		return err
	}
	if !out.RevokeTokens {
		return nil
	}
	return tx.revokeTokens(ev.EvotorUserID)
}
