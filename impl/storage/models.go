package storage

import "time"

// Account is a partner account: the partner's own customer, optionally linked to one Evotor user.
type Account struct {
	ID           int64 `gorm:"primaryKey"`
	Login        *string
	LoginKey     *string
	PasswordHash *string
	HasBilling   bool
	EvotorUserID *string
	CustomFields string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserToken is a token we issued to Evotor for one user; only its hash is kept.
type UserToken struct {
	ID           int64 `gorm:"primaryKey"`
	TokenHash    []byte
	EvotorUserID string
	AccountID    int64
	IssuedAt     time.Time
	SupersededAt *time.Time
	RevokedAt    *time.Time
}

// CloudToken is Evotor's token for one user (sent by user/token), sealed.
type CloudToken struct {
	EvotorUserID string `gorm:"primaryKey"`
	SealedToken  []byte
	UpdatedAt    time.Time
	// InvalidSince is when Evotor last refused the token (401); the next user/token clears it.
	InvalidSince *time.Time
}

// InboxEntry is one accepted delivery (event or notification), kept as received.
type InboxEntry struct {
	ID           int64 `gorm:"primaryKey"`
	Operation    string
	EvotorUserID *string
	PathParams   string
	ReceivedAt   time.Time
	Body         []byte
	// ForwardTo is where the delivery is forwarded, in its own transaction (outbox.go): the
	// application's unit of work says so with the entry; empty, nowhere.
	ForwardTo Outbox `gorm:"-"`
}

// TableName keeps the table's name singular, as in the migration.
func (InboxEntry) TableName() string { return "inbox" }
