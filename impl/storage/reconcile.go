package storage

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Reconciliation (impl/reconcile) as storage sees it: the cloud token's validity, the last
// sync of each user, what a user's inventory holds now (to compare with what Evotor lists) and
// the marks on records Evotor no longer lists. The writes of what it found go through the
// deliveries' unit of work (impl/deliver), like a webhook's.

// MarkCloudTokenInvalid records that Evotor refused the user's cloud token (401); the mark
// stays until user/token brings another (SaveCloudToken).
func (s *Store) MarkCloudTokenInvalid(ctx context.Context, userID string) error {
	return s.db.WithContext(ctx).Model(&CloudToken{}).Where("evotor_user_id = ? AND invalid_since IS NULL", userID).
		Update("invalid_since", s.now()).Error
}

// CloudTokenValid reports whether the user has a cloud token (found) and whether Evotor has
// not refused it since it came (valid).
func (s *Store) CloudTokenValid(ctx context.Context, userID string) (found, valid bool, err error) {
	var rows []CloudToken
	err = s.db.WithContext(ctx).Select("evotor_user_id", "invalid_since").Where("evotor_user_id = ?", userID).Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return false, false, err
	}
	return true, rows[0].InvalidSince == nil, nil
}

// UsersWithValidCloudToken lists the users whose cloud token Evotor has not refused.
func (s *Store) UsersWithValidCloudToken(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&CloudToken{}).Where("invalid_since IS NULL").Order("evotor_user_id").
		Pluck("evotor_user_id", &ids).Error
	return ids, err
}

// Sync states.
const (
	SyncRunning   = "running"
	SyncSucceeded = "succeeded"
	SyncFailed    = "failed"
)

// SyncState is the last sync of a user with Evotor.
type SyncState struct {
	EvotorUserID string `gorm:"primaryKey"`
	State        string
	StartedAt    time.Time
	FinishedAt   *time.Time
	Fetched      int64 // records read from Evotor
	Changed      int64 // records new or changed (stored and forwarded)
	Missing      int64 // records newly marked as no longer listed
	Error        *string
}

func (SyncState) TableName() string { return "sync_states" }

// ErrSyncRunning: a sync of the user is running already (on this replica or another).
var ErrSyncRunning = errors.New("a sync of this user is running already")

// StartSync records that a sync of the user began now, unless one is running (ErrSyncRunning,
// with that sync's state): replicas syncing the same user at once would each find the same
// changes and forward them twice. A sync marked running for longer than stale is taken for one
// whose process died.
func (s *Store) StartSync(ctx context.Context, userID string, stale time.Duration) (SyncState, error) {
	now := s.now()
	st := SyncState{EvotorUserID: userID, State: SyncRunning, StartedAt: now}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "evotor_user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"state", "started_at", "finished_at", "fetched", "changed", "missing", "error"}),
		Where: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "sync_states.state <> ? OR sync_states.started_at < ?",
			Vars: []any{SyncRunning, now.Add(-stale)}}}},
	}).Create(&st)
	if res.Error != nil || res.RowsAffected > 0 {
		return st, res.Error
	}
	running, _, err := s.LastSync(ctx, userID)
	if err != nil {
		return running, err
	}
	return running, ErrSyncRunning
}

// FinishSync records how the user's sync ended (st.State, its counts and error).
func (s *Store) FinishSync(ctx context.Context, st SyncState) (SyncState, error) {
	now := s.now()
	st.FinishedAt = &now
	err := s.db.WithContext(ctx).Model(&SyncState{}).Where("evotor_user_id = ?", st.EvotorUserID).
		Select("state", "finished_at", "fetched", "changed", "missing", "error").Updates(&st).Error
	return st, err
}

// LastSync is the user's last sync; found is false when none ran.
func (s *Store) LastSync(ctx context.Context, userID string) (st SyncState, found bool, err error) {
	err = s.db.WithContext(ctx).Where("evotor_user_id = ?", userID).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return st, false, nil
	}
	return st, err == nil, err
}

// OwnedStores are the owner's stores as stored (raw left out).
func (s *Store) OwnedStores(ctx context.Context, owner string) ([]StoreRow, error) {
	return owned[StoreRow](s, ctx, owner)
}

// OwnedDevices are the owner's devices as stored (raw left out).
func (s *Store) OwnedDevices(ctx context.Context, owner string) ([]DeviceRow, error) {
	return owned[DeviceRow](s, ctx, owner)
}

// OwnedEmployees are the owner's employees as stored (raw left out).
func (s *Store) OwnedEmployees(ctx context.Context, owner string) ([]EmployeeRow, error) {
	return owned[EmployeeRow](s, ctx, owner)
}

// StoreProducts are the products and groups of one of the owner's stores (raw left out).
func (s *Store) StoreProducts(ctx context.Context, owner, store string) ([]ProductRow, error) {
	var rows []ProductRow
	err := s.db.WithContext(ctx).Omit("raw", "raw_hash").Where("owner_id = ? AND store_uuid = ?", owner, store).Order("uuid").Find(&rows).Error
	return rows, err
}

func owned[T any](s *Store, ctx context.Context, owner string) ([]T, error) {
	var rows []T
	err := s.db.WithContext(ctx).Omit("raw").Where("owner_id = ?", owner).Order("uuid").Find(&rows).Error
	return rows, err
}

// Inventory tables whose records reconciliation marks.
const (
	TableStores    = "stores"
	TableDevices   = "devices"
	TableEmployees = "employees"
	TableProducts  = "products"
)

// markBatch is how many uuids one marking statement names (well under SQLite's 32,766
// variables).
const markBatch = 500

// MarkMissing marks the owner's records of table (of store, for products) whose uuids are in
// gone as no longer listed by Evotor (those marked already keep their time), and clears the
// mark of those in back. Nothing is deleted.
func (s *Store) MarkMissing(ctx context.Context, table, owner, store string, gone, back []string) error {
	db := s.db.WithContext(ctx)
	scope := func(uuids []string) *gorm.DB {
		q := db.Table(table).Where("owner_id = ? AND uuid IN ?", owner, uuids)
		if table == TableProducts {
			q = q.Where("store_uuid = ?", store)
		}
		return q
	}
	now := s.now()
	for part := range slices.Chunk(gone, markBatch) {
		if err := scope(part).Where("missing_since IS NULL").Update("missing_since", now).Error; err != nil {
			return err
		}
	}
	for part := range slices.Chunk(back, markBatch) {
		if err := scope(part).Where("missing_since IS NOT NULL").Update("missing_since", nil).Error; err != nil {
			return err
		}
	}
	return nil
}
