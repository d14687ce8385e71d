package storage_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
)

// jsonArray is a JSON array of about size bytes, as compressible as a catalogue.
func jsonArray(size int) []byte {
	b := []byte("[")
	for i := 0; len(b) < size; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"uuid":"%08x-8707-4f47-9d9c-4db058054cb2","name":"Товар номер %d","barCodes":["%013d"]}`, i, i, i)
	}
	return append(b, ']')
}

// TestLargeInboxBodiesAreStoredCompressed: a large body is stored as an lz4 frame, and read
// back (the admin API's body, its listed size, the forwarded body) byte for byte; a receipts
// body, a small one and one that does not compress are stored as received.
func TestLargeInboxBodiesAreStoredCompressed(t *testing.T) {
	random := make([]byte, 200<<10)
	_, _ = rand.Read(random)
	large := jsonArray(1 << 20)
	cases := []struct {
		name, operation string
		body            []byte
		compressed      bool
	}{
		{"catalogue", "createProducts", large, true},
		{"receipts", "postReceipts", large, false}, // receipts are spans of their body
		{"small", "putStores", jsonArray(60 << 10), false},
		{"incompressible", "putDocuments", append(append([]byte(`["`), fmt.Appendf(nil, "%x", random)...), `"]`...), false},
	}
	storagetest.Each(t, func(t *testing.T, b storagetest.Backend) {
		db := b.Open(t)
		for _, c := range cases {
			user := "01-" + c.name
			entry := storage.InboxEntry{Operation: c.operation, EvotorUserID: &user, PathParams: "{}", Body: c.body}
			if err := db.Store.Accept(ctx, entry, nil); err != nil {
				t.Fatal(err)
			}
			var row storage.InboxEntry
			if err := db.DB.Where("evotor_user_id = ?", user).Take(&row).Error; err != nil {
				t.Fatal(err)
			}
			if stored := !bytes.Equal(row.Body, c.body); stored != c.compressed {
				t.Errorf("%s: %d bytes stored for %d, compressed %v, want %v", c.name, len(row.Body), len(c.body), stored, c.compressed)
			}
			if c.compressed && len(row.Body) > len(c.body)/3 {
				t.Errorf("%s: %d bytes stored for %d", c.name, len(row.Body), len(c.body))
			}
			if got, err := storage.InboxBodyOf(row.Body); err != nil || !bytes.Equal(got, c.body) {
				t.Errorf("%s: InboxBodyOf: %d bytes, %v", c.name, len(got), err)
			}
			got, found, err := db.Store.InboxBody(ctx, user, row.ID)
			if err != nil || !found || !bytes.Equal(got, c.body) {
				t.Errorf("%s: InboxBody: %d bytes of %d, found %v, %v", c.name, len(got), len(c.body), found, err)
			}
			listed, _, err := db.Store.InboxOf(ctx, user, 0, 10)
			if err != nil || len(listed) != 1 || listed[0].BodyBytes != int64(len(c.body)) {
				t.Errorf("%s: listed %+v (%v), want %d bytes", c.name, listed, err, len(c.body))
			}
		}
	})
}

// TestInboxBodyOfRefusesDamagedFrames: a stored frame cut short or without its size is an
// error, never a body.
func TestInboxBodyOfRefusesDamagedFrames(t *testing.T) {
	for _, stored := range [][]byte{
		{0x04, 0x22, 0x4d, 0x18},
		{0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73},                         // no content size
		{0x04, 0x22, 0x4d, 0x18, 0x68, 0x70, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, // 2^56 bytes
		{0x04, 0x22, 0x4d, 0x18, 0x68, 0x70, 10, 0, 0, 0, 0, 0, 0, 0, 0},   // no block
	} {
		if got, err := storage.InboxBodyOf(stored); err == nil {
			t.Errorf("% x: %q, want an error", stored, got)
		}
	}
	if got, err := storage.InboxBodyOf([]byte(`{"a":1}`)); err != nil || string(got) != `{"a":1}` {
		t.Errorf("JSON: %q, %v", got, err)
	}
}
