package storage

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

var (
	// ErrLoginTaken: another account already has this login.
	ErrLoginTaken = apperr.ErrLoginTaken
	// ErrLinkedElsewhere: the account is linked to another Evotor user, or the Evotor user to
	// another account.
	ErrLinkedElsewhere = apperr.ErrLinkedElsewhere
)

// NewAccount describes an account to create.
type NewAccount struct {
	Login        string // empty: no login (an Evotor user who registered without one)
	PasswordHash string // empty: no password
	HasBilling   bool
	CustomFields string // JSON object of the fields Evotor sent, "" for none
}

// loginKey is how logins are compared: case-insensitively, ignoring surrounding blanks.
func loginKey(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

func (a NewAccount) row() Account {
	row := Account{HasBilling: a.HasBilling, CustomFields: a.CustomFields}
	if row.CustomFields == "" {
		row.CustomFields = "{}"
	}
	if a.Login != "" {
		login, key := a.Login, loginKey(a.Login)
		row.Login, row.LoginKey = &login, &key
	}
	if a.PasswordHash != "" {
		row.PasswordHash = &a.PasswordHash
	}
	return row
}

// AddAccount creates an account not (yet) linked to any Evotor user.
func (s *Store) AddAccount(ctx context.Context, a NewAccount) (int64, error) {
	row := a.row()
	err := s.db.WithContext(ctx).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return 0, ErrLoginTaken
	}
	return row.ID, err
}

// AccountByLogin finds an account by login, case-insensitively.
func (s *Store) AccountByLogin(ctx context.Context, login string) (Account, bool, error) {
	var acc Account
	err := s.db.WithContext(ctx).Where("login_key = ?", loginKey(login)).Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, false, nil
	}
	return acc, err == nil, err
}

// AccountByEvotorUser finds the account linked to an Evotor user.
func (s *Store) AccountByEvotorUser(ctx context.Context, userID string) (Account, bool, error) {
	var acc Account
	err := s.db.WithContext(ctx).Where("evotor_user_id = ?", userID).Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, false, nil
	}
	return acc, err == nil, err
}

// RegisterEvotorUser is user/create: it creates the account linked to userID, or, when a
// create for the same user already succeeded (Evotor retries), reuses that account; either way
// it records a new user token. ErrLoginTaken when a.Login belongs to another account.
func (s *Store) RegisterEvotorUser(ctx context.Context, userID string, a NewAccount, tokenHash []byte) (Account, error) {
	acc, err := s.registerEvotorUser(ctx, userID, a, tokenHash, errCreateRaced)
	if errors.Is(err, errCreateRaced) {
		// The login's index refused the insert: another account has the login, or a
		// concurrent copy of this create committed first (PostgreSQL checks the login's index
		// before the user's, so ON CONFLICT did not apply). Once more: the copy's account is
		// found and reused; a login taken by another account is refused again.
		acc, err = s.registerEvotorUser(ctx, userID, a, tokenHash, ErrLoginTaken)
	}
	return acc, err
}

// errCreateRaced: RegisterEvotorUser's insert hit the login's unique index.
var errCreateRaced = errors.New("storage: user create raced")

func (s *Store) registerEvotorUser(ctx context.Context, userID string, a NewAccount, tokenHash []byte, taken error) (Account, error) {
	var acc Account
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("evotor_user_id = ?", userID).Take(&acc).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			acc = a.row()
			acc.EvotorUserID = &userID
			res := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "evotor_user_id"}}, DoNothing: true}).Create(&acc)
			if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
				return taken
			}
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 { // a concurrent create for the same user got there first
				if err := tx.Where("evotor_user_id = ?", userID).Take(&acc).Error; err != nil {
					return err
				}
			}
		case err != nil:
			return err
		case a.Login != "" && (acc.LoginKey == nil || *acc.LoginKey != loginKey(a.Login)):
			var taken int64
			if err := tx.Model(&Account{}).Where("login_key = ? AND id <> ?", loginKey(a.Login), acc.ID).Count(&taken).Error; err != nil {
				return err
			}
			if taken > 0 {
				return ErrLoginTaken
			}
		}
		return s.insertToken(tx, acc.ID, userID, tokenHash)
	})
	return acc, err
}

// LinkEvotorUser is user/verify after the password matched: it links the account to userID
// (a repeat for the same user is fine) and records a new user token.
func (s *Store) LinkEvotorUser(ctx context.Context, accountID int64, userID string, tokenHash []byte) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Account{}).
			Where("id = ? AND (evotor_user_id IS NULL OR evotor_user_id = ?)", accountID, userID).
			Updates(map[string]any{"evotor_user_id": userID, "updated_at": s.now()})
		if errors.Is(res.Error, gorm.ErrDuplicatedKey) || (res.Error == nil && res.RowsAffected == 0) {
			return ErrLinkedElsewhere
		}
		if res.Error != nil {
			return res.Error
		}
		return s.insertToken(tx, accountID, userID, tokenHash)
	})
}
