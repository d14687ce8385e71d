package impl

import "context"

// Forwarding is what the admin API needs of the forwarding queue (impl/forward.Service).
type Forwarding interface {
	// ResendDead re-sends the dead message id (id > 0) or every dead message of destination.
	ResendDead(ctx context.Context, id int64, destination string) (int, error)
}
