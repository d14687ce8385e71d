package impl

import (
	"context"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Syncer syncs one user with Evotor now (impl/reconcile.Service).
type Syncer interface {
	Sync(ctx context.Context, userID string) (storage.SyncState, error)
}

// AdminSyncUser syncs the user with Evotor before it answers, and answers the sync as
// recorded (200 also when it failed: the state says so).
func (s *Server) AdminSyncUser(ctx context.Context, req generated.AdminSyncUserRequestObject) (generated.AdminSyncUserResponseObject, error) {
	if s.sync == nil {
		return nil, apperr.Because(apperr.Unavailable, "", "reconciliation is not configured")
	}
	v, err := s.store.User(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	if !v.Known() {
		return nil, apperr.New(apperr.NotFound, "userId")
	}
	st, err := s.sync.Sync(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	return generated.AdminSyncUser200JSONResponse(syncState(st)), nil
}

// AdminGetUserSync shows the user's last sync.
func (s *Server) AdminGetUserSync(ctx context.Context, req generated.AdminGetUserSyncRequestObject) (generated.AdminGetUserSyncResponseObject, error) {
	st, found, err := s.store.LastSync(ctx, req.UserId)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, apperr.New(apperr.NotFound, "userId")
	}
	return generated.AdminGetUserSync200JSONResponse(syncState(st)), nil
}

func syncState(st storage.SyncState) generated.SyncState {
	out := generated.SyncState{UserId: st.EvotorUserID, State: generated.SyncStateState(st.State), StartedAt: st.StartedAt.UTC(),
		Fetched: st.Fetched, Changed: st.Changed, Missing: st.Missing, Error: st.Error}
	if st.FinishedAt != nil {
		t := st.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	return out
}
