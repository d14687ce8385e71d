package storage

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// EvotorUser is an Evotor user the server has heard of (by user/create, verify, token, or a
// subscription or installation event); seq orders them by when it first did.
type EvotorUser struct {
	Seq          int64 `gorm:"primaryKey"`
	EvotorUserID string
	FirstSeenAt  time.Time
}

// noteUser records that userID exists; a user already known keeps its first sighting.
func noteUser(db *gorm.DB, userID string, now time.Time) error {
	return db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "evotor_user_id"}}, DoNothing: true}).
		Create(&EvotorUser{EvotorUserID: userID, FirstSeenAt: now}).Error
}

// UserFilter narrows the users listing; empty fields do not filter.
type UserFilter struct {
	Installed          *bool  // some installation of the app is (true) or none is (false)
	SubscriptionStatus string // some subscription of the user has this status
}

// UserSummary is one row of the users listing.
type UserSummary struct {
	EvotorUser
	HasAccount           bool
	HasCloudToken        bool
	CloudTokenValid      bool // not refused by Evotor (401) since it came
	Installed            bool
	SubscriptionStatuses []string
}

// Users lists known users newest first, with seq below before (0: from the newest), and
// whether more follow.
func (s *Store) Users(ctx context.Context, f UserFilter, before int64, limit int) ([]UserSummary, bool, error) {
	db := s.db.WithContext(ctx)
	q := db.Model(&EvotorUser{})
	if before > 0 {
		q = q.Where("seq < ?", before)
	}
	installed := "EXISTS (SELECT 1 FROM installations i WHERE i.evotor_user_id = evotor_users.evotor_user_id AND i.installed)"
	switch {
	case f.Installed != nil && *f.Installed:
		q = q.Where(installed)
	case f.Installed != nil:
		q = q.Where("NOT " + installed)
	}
	if f.SubscriptionStatus != "" {
		q = q.Where("EXISTS (SELECT 1 FROM subscriptions s WHERE s.evotor_user_id = evotor_users.evotor_user_id AND s.status = ?)", f.SubscriptionStatus)
	}
	var users []EvotorUser
	if err := q.Order("seq DESC").Limit(limit + 1).Find(&users).Error; err != nil {
		return nil, false, err
	}
	more := len(users) > limit
	if more {
		users = users[:limit]
	}
	out, err := s.summarize(db, users)
	return out, more, err
}

// summarize adds to each user what is known of it, in one query per table.
func (s *Store) summarize(db *gorm.DB, users []EvotorUser) ([]UserSummary, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.EvotorUserID
	}
	var accounts, clouds, refused, installed []string
	var subs []Subscription
	for _, q := range []struct {
		table, where string
		into         *[]string
	}{
		{"accounts", "evotor_user_id IN ?", &accounts},
		{"cloud_tokens", "evotor_user_id IN ?", &clouds},
		{"cloud_tokens", "evotor_user_id IN ? AND invalid_since IS NOT NULL", &refused},
		{"installations", "evotor_user_id IN ? AND installed", &installed},
	} {
		if err := db.Table(q.table).Where(q.where, ids).Distinct().Pluck("evotor_user_id", q.into).Error; err != nil {
			return nil, err
		}
	}
	if err := db.Where("evotor_user_id IN ?", ids).Order("subscription_id").Find(&subs).Error; err != nil {
		return nil, err
	}
	out := make([]UserSummary, len(users))
	for i, u := range users {
		out[i] = UserSummary{EvotorUser: u, HasAccount: slices.Contains(accounts, u.EvotorUserID),
			HasCloudToken: slices.Contains(clouds, u.EvotorUserID), Installed: slices.Contains(installed, u.EvotorUserID),
			CloudTokenValid:      slices.Contains(clouds, u.EvotorUserID) && !slices.Contains(refused, u.EvotorUserID),
			SubscriptionStatuses: []string{}}
		for _, sub := range subs {
			if sub.EvotorUserID == u.EvotorUserID {
				out[i].SubscriptionStatuses = append(out[i].SubscriptionStatuses, sub.Status)
			}
		}
	}
	return out, nil
}
