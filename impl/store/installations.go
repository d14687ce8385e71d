package store

import (
	"strings"
	"time"

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

// RecordInstallationEvent stores the event once (by id) and, when it is the newest for the
// (user, product), sets the installation state; an uninstall then revokes all the user's
// tokens (a reinstall goes through create/verify again and gets new ones).
func (tx *Tx) RecordInstallationEvent(ev InstallationEvent) error {
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
	installed := strings.EqualFold(ev.Type, "ApplicationInstalled")
	if !installed && !strings.EqualFold(ev.Type, "ApplicationUninstalled") {
		return nil // unknown type: stored, no state change
	}
	inst := Installation{EvotorUserID: ev.EvotorUserID, ProductID: ev.ProductID, Installed: installed,
		LastEventMs: -1 << 63, UpdatedAt: ev.ReceivedAt}
	if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&inst).Error; err != nil {
		return err
	}
	if err := tx.lockRow(tx.db).Where("evotor_user_id = ? AND product_id = ?", ev.EvotorUserID, ev.ProductID).Take(&inst).Error; err != nil {
		return err
	}
	if ev.OccurredMs < inst.LastEventMs {
		return nil // an older event arriving late: kept, not applied
	}
	if err := tx.db.Model(&inst).Where("evotor_user_id = ? AND product_id = ?", ev.EvotorUserID, ev.ProductID).
		Updates(map[string]any{"installed": installed, "last_event_ms": ev.OccurredMs, "updated_at": ev.ReceivedAt}).Error; err != nil {
		return err
	}
	if installed {
		return nil
	}
	return tx.revokeTokens(ev.EvotorUserID)
}
