package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// TestCloudTokenInvalidUntilReplaced: a 401 marks the cloud token invalid; the next user/token
// clears the mark; only users with a valid token are listed for syncing.
func TestCloudTokenInvalidUntilReplaced(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		if found, _, err := st.CloudTokenValid(ctx, "u1"); err != nil || found {
			t.Fatalf("found %v, %v before any token", found, err)
		}
		for _, u := range []string{"u1", "u2"} {
			if err := st.SaveCloudToken(ctx, u, []byte("sealed-"+u)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.MarkCloudTokenInvalid(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if found, valid, err := st.CloudTokenValid(ctx, "u1"); err != nil || !found || valid {
			t.Fatalf("after a 401: found %v valid %v, %v", found, valid, err)
		}
		if ids, err := st.UsersWithValidCloudToken(ctx); err != nil || len(ids) != 1 || ids[0] != "u2" {
			t.Fatalf("valid users %v, %v", ids, err)
		}
		if err := st.SaveCloudToken(ctx, "u1", []byte("sealed-again")); err != nil {
			t.Fatal(err)
		}
		if _, valid, err := st.CloudTokenValid(ctx, "u1"); err != nil || !valid {
			t.Fatalf("after user/token: valid %v, %v", valid, err)
		}
	})
}

// TestSyncStateAndMissingMarks: the last sync is kept per user; records Evotor no longer lists
// are marked (not deleted) and the mark goes when they are seen again.
func TestSyncStateAndMissingMarks(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		if _, found, err := st.LastSync(ctx, "u1"); err != nil || found {
			t.Fatalf("a sync before any: %v %v", found, err)
		}
		s, err := st.StartSync(ctx, "u1", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.StartSync(ctx, "u1", time.Hour); !errors.Is(err, storage.ErrSyncRunning) {
			t.Fatalf("a second sync while one runs: %v", err)
		}
		msg := "Evotor answered 500"
		s.State, s.Fetched, s.Changed, s.Missing, s.Error = storage.SyncFailed, 7, 2, 1, &msg
		if _, err := st.FinishSync(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, found, err := st.LastSync(ctx, "u1")
		if err != nil || !found || got.State != storage.SyncFailed || got.Fetched != 7 || got.Changed != 2 || got.Missing != 1 ||
			got.FinishedAt == nil || got.Error == nil || *got.Error != msg {
			t.Fatalf("last sync %+v %v %v", got, found, err)
		}
		if s, err = st.StartSync(ctx, "u1", time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := st.LastSync(ctx, "u1"); got.State != storage.SyncRunning || got.FinishedAt != nil || got.Error != nil {
			t.Fatalf("a new sync keeps the last one's outcome: %+v", got)
		}

		entry, apply := receiptDelivery("u1", "r-1", "s-1")
		if err := st.Accept(ctx, entry, apply); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkMissing(ctx, storage.TableStores, "u1", "", []string{"s-1"}, nil); err != nil {
			t.Fatal(err)
		}
		stores, err := st.OwnedStores(ctx, "u1")
		if err != nil || len(stores) != 1 || stores[0].MissingSince == nil {
			t.Fatalf("marked: %+v, %v", stores, err)
		}
		if err := st.MarkMissing(ctx, storage.TableStores, "u2", "", nil, []string{"s-1"}); err != nil {
			t.Fatal(err)
		}
		if stores, _ = st.OwnedStores(ctx, "u1"); stores[0].MissingSince == nil {
			t.Fatal("another owner cleared the mark")
		}
		if err := st.MarkMissing(ctx, storage.TableStores, "u1", "", nil, []string{"s-1"}); err != nil {
			t.Fatal(err)
		}
		if stores, _ = st.OwnedStores(ctx, "u1"); stores[0].MissingSince != nil {
			t.Fatal("seen again, still marked")
		}
		if err := st.MarkMissing(ctx, storage.TableProducts, "u1", "s-1", []string{"p"}, []string{"q"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStaleRunningSyncIsTakenOver: a sync marked running for longer than the stale delay (its
// process died) does not keep the user from being synced.
func TestStaleRunningSyncIsTakenOver(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		st := b.Open(t).Store
		if _, err := st.StartSync(ctx, "u1", time.Hour); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := st.StartSync(ctx, "u1", 10*time.Millisecond); err != nil {
			t.Fatalf("a stale running sync: %v", err)
		}
	})
}
