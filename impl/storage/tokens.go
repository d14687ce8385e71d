package storage

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// insertToken records a new user token; the user's earlier tokens become superseded (they
// expire a grace period later, see security.Config.TokenGrace).
func (s *Store) insertToken(tx *gorm.DB, accountID int64, userID string, hash []byte) error {
	now := s.now()
	if err := noteUser(tx, userID, now); err != nil {
		return err
	}
	if err := tx.Model(&UserToken{}).Where("evotor_user_id = ? AND superseded_at IS NULL", userID).
		Update("superseded_at", now).Error; err != nil {
		return err
	}
	return tx.Create(&UserToken{TokenHash: hash, EvotorUserID: userID, AccountID: accountID, IssuedAt: now}).Error
}

// revokeTokens ends every token of the user (uninstall).
func (tx *Tx) revokeTokens(userID string) error {
	return tx.db.Model(&UserToken{}).Where("evotor_user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", tx.store.now()).Error
}

// LookupUserToken implements security.UserTokens.
func (s *Store) LookupUserToken(ctx context.Context, hash usertoken.Hash) (usertoken.Record, bool, error) {
	var t UserToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash[:]).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return usertoken.Record{}, false, nil
	}
	if err != nil {
		return usertoken.Record{}, false, err
	}
	return usertoken.Record{ID: t.ID, UserID: t.EvotorUserID, Revoked: t.RevokedAt != nil, SupersededAt: t.SupersededAt}, true, nil
}

// SaveCloudToken keeps Evotor's (sealed) cloud token for a user; a repeat replaces it (and
// clears the mark a 401 left on the one it replaces).
func (s *Store) SaveCloudToken(ctx context.Context, userID string, sealed []byte) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := noteUser(tx, userID, s.now()); err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "evotor_user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"sealed_token", "updated_at", "invalid_since"}),
		}).Create(&CloudToken{EvotorUserID: userID, SealedToken: sealed, UpdatedAt: s.now()}).Error
	})
}

// CloudToken is Evotor's cloud token for the user as stored: sealed (open it with the sealer,
// bound to the user id); found is false when Evotor has sent none.
func (s *Store) CloudToken(ctx context.Context, userID string) (sealed []byte, found bool, err error) {
	var t CloudToken
	err = s.db.WithContext(ctx).Where("evotor_user_id = ?", userID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, false, nil
	}
	return t.SealedToken, err == nil, err
}

// ConfirmToken refuses the delivery when its user token no longer authenticates: revoked by an
// uninstall or expired since the request was authenticated, maybe from a cache and maybe on
// another replica. Read inside the delivery's transaction: nothing of it commits after the
// revocation does.
func (tx *Tx) ConfirmToken(check usertoken.Check) error { return confirmToken(tx.db, check) }

// ConfirmToken is Tx.ConfirmToken for a request that writes nothing (the barcode lookup): the
// token as it is now, whatever the replica's cache remembers.
func (s *Store) ConfirmToken(ctx context.Context, check usertoken.Check) error {
	return confirmToken(s.db.WithContext(ctx), check)
}

func confirmToken(db *gorm.DB, check usertoken.Check) error {
	var t UserToken
	err := db.Select("revoked_at", "superseded_at").Where("id = ?", check.ID).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return refusal(false, usertoken.Record{}, check)
	}
	if err != nil {
		return err
	}
	return refusal(true, usertoken.Record{Revoked: t.RevokedAt != nil, SupersededAt: t.SupersededAt}, check)
}

// refusal is the delivery's error when its token, as stored (found: its row is there), no
// longer authenticates.
func refusal(found bool, rec usertoken.Record, check usertoken.Check) error {
	if !found {
		return apperr.New(apperr.BadUserToken, "")
	}
	if kind := rec.Refusal(check.Cutoff); kind != 0 {
		return apperr.New(kind, "")
	}
	return nil
}

// Admit lets a notification in: its user token confirmed (ConfirmToken; nil: none to confirm,
// what reconciliation fetched), then the stores it names claimed for owner (ClaimStores). On
// PostgreSQL the token and the stores' owners are read in one statement (admitSQL), one round
// trip for both; the token is judged first all the same.
func (tx *Tx) Admit(token *usertoken.Check, owner string, stores ...string) error {
	if !tx.store.OnPostgres() {
		if token != nil {
			if err := tx.ConfirmToken(*token); err != nil {
				return err
			}
		}
		return tx.ClaimStores(owner, stores...)
	}
	c := newStoreClaim(owner, tx.store.now(), stores)
	if token == nil && len(c.keys) == 0 {
		return nil
	}
	found, rec, owners, err := tx.readAdmission(token, c.keys)
	if err != nil {
		return err
	}
	if token != nil {
		if err := refusal(found, rec, *token); err != nil {
			return err
		}
	}
	if len(c.keys) == 0 {
		return nil
	}
	return tx.finishClaim(c, owners)
}

// admitSQL reads the token's row ($1; NULL: none) and the owners of the stores ($2) in one.
const admitSQL = `SELECT true, t.revoked_at, t.superseded_at, NULL::text FROM user_tokens t WHERE t.id = $1
	UNION ALL
	SELECT false, NULL, NULL, s.owner_id FROM stores s WHERE s.uuid = ANY($2::text[])`

// readAdmission runs admitSQL: whether the token's row exists, and its state; the owners the
// named stores already have (a store nobody claimed yet has no row, so no owner).
func (tx *Tx) readAdmission(token *usertoken.Check, keys []string) (found bool, rec usertoken.Record, owners []string, err error) {
	sqlTx, err := sqlTx(tx.db)
	if err != nil {
		return false, rec, nil, err
	}
	var id *int64
	if token != nil {
		id = &token.ID
	}
	rows, err := sqlTx.QueryContext(tx.db.Statement.Context, admitSQL, id, keys)
	if err != nil {
		return false, rec, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var isToken bool
		var revokedAt, supersededAt *time.Time
		var owner *string
		if err := rows.Scan(&isToken, &revokedAt, &supersededAt, &owner); err != nil {
			return false, rec, nil, err
		}
		if isToken {
			found, rec = true, usertoken.Record{Revoked: revokedAt != nil, SupersededAt: supersededAt}
		} else if owner != nil {
			owners = append(owners, *owner)
		}
	}
	return found, rec, owners, rows.Err()
}
