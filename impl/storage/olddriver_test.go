package storage_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// TestReadsWhatTheOldDriverWrote: testdata/written-by-glebarez.db is a data directory's SQLite
// file written by the server on the driver it used before modernc.org/sqlite
// (glebarez/go-sqlite: `evotor-cloud lifecycle` against it, 2026-12-03). It opens, its times
// read back as the times they were, its sealed secrets open with its key, and it takes the next
// delivery.
func TestReadsWhatTheOldDriverWrote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := os.ReadFile("testdata/written-by-glebarez.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storage.SQLiteFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	keyHex, _ := os.ReadFile("testdata/written-by-glebarez.secret.key")
	key, _ := hex.DecodeString(strings.TrimSpace(string(keyHex)))
	s, err := sealer.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckSecretKey(ctx, s); err != nil {
		t.Fatalf("the key check the old driver stored: %v", err)
	}

	const user = "01-000000000000009"
	v, err := st.User(ctx, user)
	if err != nil || v.Account == nil || !v.HasCloudToken || len(v.Installations) == 0 || len(v.Subscriptions) == 0 {
		t.Fatalf("the user: %+v %v", v, err)
	}
	written := time.Date(2026, 12, 3, 9, 57, 14, 0, time.UTC)
	entries, _, err := st.InboxOf(ctx, user, 0, 100)
	if err != nil || len(entries) != 11 {
		t.Fatalf("%d inbox entries (%v), want the lifecycle's 11", len(entries), err)
	}
	for _, e := range entries {
		if e.ReceivedAt.Sub(written).Abs() > time.Second || e.Operation == "" || e.BodyBytes == 0 {
			t.Errorf("inbox entry %+v: not as written at %v", e, written)
		}
	}
	if body, found, err := st.InboxBody(ctx, user, entries[0].ID); err != nil || !found || int64(len(body)) != entries[0].BodyBytes {
		t.Fatalf("the newest body: %d bytes, found %v, %v", len(body), found, err)
	}
	entry := storage.InboxEntry{Operation: "putStores", EvotorUserID: new(string), PathParams: "{}", Body: []byte("[]")}
	*entry.EvotorUserID = user
	if err := st.Accept(ctx, entry, nil); err != nil {
		t.Fatal(err)
	}
	if after, _, _ := st.InboxOf(ctx, user, 0, 100); len(after) != 12 {
		t.Fatalf("%d inbox entries after one more delivery", len(after))
	}
}
