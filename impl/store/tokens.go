package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/security"
)

func (s *Store) insertToken(tx *gorm.DB, accountID int64, userID string, hash []byte) error {
	return tx.Create(&UserToken{TokenHash: hash, EvotorUserID: userID, AccountID: accountID, IssuedAt: s.now()}).Error
}

// LookupUserToken implements security.UserTokens.
func (s *Store) LookupUserToken(ctx context.Context, hash security.TokenHash) (security.UserTokenRecord, bool, error) {
	var t UserToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash[:]).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return security.UserTokenRecord{}, false, nil
	}
	if err != nil {
		return security.UserTokenRecord{}, false, err
	}
	return security.UserTokenRecord{ID: t.ID, UserID: t.EvotorUserID, Revoked: t.RevokedAt != nil}, true, nil
}

// SaveCloudToken keeps Evotor's (sealed) cloud token for a user; a repeat replaces it.
func (s *Store) SaveCloudToken(ctx context.Context, userID string, sealed []byte) error {
	return s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "evotor_user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"sealed_token", "updated_at"}),
	}).Create(&CloudToken{EvotorUserID: userID, SealedToken: sealed, UpdatedAt: s.now()}).Error
}

// AppendInbox stores one accepted delivery.
func (s *Store) AppendInbox(ctx context.Context, e InboxEntry) error {
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = s.now()
	}
	return s.db.WithContext(ctx).Create(&e).Error
}
