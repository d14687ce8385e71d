package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/sealer"
)

// ErrWrongSecretKey: none of the configured secret keys opens what the database holds sealed.
var ErrWrongSecretKey = errors.New("none of the secret keys opens the values sealed in the database")

// keyCheck is the row of secret_key_check: a constant sealed with the first key.
type keyCheck struct {
	ID        int `gorm:"primaryKey"`
	Sealed    []byte
	UpdatedAt time.Time
}

func (keyCheck) TableName() string { return "secret_key_check" }

const keyCheckLabel = "secret key check"

var keyCheckPlaintext = []byte("evotor-partner secret key check v1")

func (s *Store) newKeyCheck(sealer *sealer.Sealer) keyCheck {
	return keyCheck{ID: 1, Sealed: sealer.Seal(keyCheckPlaintext, keyCheckLabel), UpdatedAt: s.now()}
}

// ErrStaleFirstKey: the keyring opens the key check, but not with its first key, the one it
// would seal with: a typo in the first key, or a rotation whose `secrets rotate` has not run.
// Tokens it sealed could not be read by the instances that hold the current key.
var ErrStaleFirstKey = errors.New("the first secret key does not open the key check, which a later key of the list sealed")

// CheckSecretKey refuses a keyring that does not open the stored key check value
// (ErrWrongSecretKey), or opens it with another key than its first (ErrStaleFirstKey). A
// database without one gets one sealed with the first key, provided the keyring opens the
// newest cloud token already stored (a database from before key checks).
func (s *Store) CheckSecretKey(ctx context.Context, sealer *sealer.Sealer) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		fresh := s.newKeyCheck(sealer)
		res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoNothing: true}).Create(&fresh)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			return opensNewestCloudToken(tx, sealer)
		}
		var stored keyCheck
		if err := tx.Take(&stored, 1).Error; err != nil {
			return err
		}
		if _, err := sealer.Open(stored.Sealed, keyCheckLabel); err != nil {
			return ErrWrongSecretKey
		}
		if !sealer.SealedWithFirst(stored.Sealed, keyCheckLabel) {
			return ErrStaleFirstKey
		}
		return nil
	})
}

func opensNewestCloudToken(tx *gorm.DB, sealer *sealer.Sealer) error {
	var newest CloudToken
	err := tx.Order("updated_at DESC").Take(&newest).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil
	case err != nil:
		return err
	}
	if _, err := sealer.Open(newest.SealedToken, newest.EvotorUserID); err != nil {
		return fmt.Errorf("%w (the cloud token of %s)", ErrWrongSecretKey, newest.EvotorUserID)
	}
	return nil
}

// ResealSecrets re-seals every stored cloud token, and the key check value, with the first key,
// in one transaction; afterwards the older keys can leave the configuration. It returns how
// many cloud tokens it re-sealed. Nothing changes when one of them does not open.
func (s *Store) ResealSecrets(ctx context.Context, sealer *sealer.Sealer) (int, error) {
	resealed := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var stored []keyCheck
		if err := s.forUpdate(tx).Find(&stored).Error; err != nil {
			return err
		}
		for _, c := range stored {
			if _, err := sealer.Open(c.Sealed, keyCheckLabel); err != nil {
				return ErrWrongSecretKey
			}
		}
		var tokens []CloudToken
		// Locked, so a cloud token Evotor sends meanwhile is not overwritten with its older value.
		if err := s.forUpdate(tx).Find(&tokens).Error; err != nil {
			return err
		}
		for _, t := range tokens {
			plain, err := sealer.Open(t.SealedToken, t.EvotorUserID)
			if err != nil {
				return fmt.Errorf("%w (the cloud token of %s)", ErrWrongSecretKey, t.EvotorUserID)
			}
			// UpdateColumn: updated_at keeps saying when Evotor sent the token.
			if err := tx.Model(&CloudToken{}).Where("evotor_user_id = ?", t.EvotorUserID).
				UpdateColumn("sealed_token", sealer.Seal(plain, t.EvotorUserID)).Error; err != nil {
				return err
			}
			resealed++
		}
		check := s.newKeyCheck(sealer)
		return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, UpdateAll: true}).Create(&check).Error
	})
	return resealed, err
}

// forUpdate locks the rows q reads until the transaction ends, so that concurrent writers of
// them take turns (PostgreSQL; SQLite has a single writer already). The one locking helper.
func (s *Store) forUpdate(q *gorm.DB) *gorm.DB {
	if s.OnPostgres() {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}
