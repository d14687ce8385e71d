package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pierrec/lz4/v4"
)

// Large inbox bodies are stored compressed, as an lz4 frame, compressed here while the
// delivery's domain writes run (applyDelivery) rather than by PostgreSQL once the row is
// written. A 10 MB catalogue goes to the database as ~1.5 MB (10 ms of lz4 in the background):
// the driver's two copies of the parameter (pgx's argument buffer, then its Bind message),
// PostgreSQL's receipt of it and its own lz4 pass, all at the end of the transaction with
// nothing overlapping them, shrink to the compressed size. Measured on a 2-CPU development
// machine (2026-12-03): the inbox row and the commit took 60–90 ms of a new store's catalogue,
// now 8–15 ms, and the peak memory growth over catalogues fell from 99–106 to 72–76 MiB
// (make bench-load's measure, runs alternating with the code before). SQLite, which
// compresses nothing, writes and syncs a seventh of the bytes.
//
// inbox.body keeps PostgreSQL's default storage (compressed when it can be, migration 00009):
// its lz4 pass over an already compressed frame costs ~5 ms per 1.5 MB (EXTERNAL measured 9–12
// ms per insert, EXTENDED 14–17), while bodies it still compresses (receipts, bodies under
// compressInboxFrom) would be stored whole without it.
//
// A stored body is either the body as received (JSON, whose first byte is never 0x04) or an
// lz4 frame, which always opens with the magic bytes 04 22 4D 18: InboxBodyOf tells them apart.
// Every reader of inbox.body goes through it (InboxBody, OutgoingByID); the admin listing's
// size reads body_length, the length as received of a compressed body (migration 00012).

// compressInboxFrom: bodies of at least this many bytes are stored compressed. Smaller ones
// (events, a few stores) are left as they are: PostgreSQL still compresses those over 2 KB
// itself (migration 00009), and compressing here would only add an allocation per delivery.
const compressInboxFrom = 64 << 10

// receiptsOperation's bodies are never compressed, however large: on PostgreSQL's receipts
// path a receipt is a span (offset, length) of its delivery's stored body, read back with
// substr (receiptRaw, receipts_postgres.go); keeping every receipts body as received keeps
// that true whichever path stored it.
const receiptsOperation = "postReceipts"

// lz4FrameMagic opens every lz4 frame (lz4's frame format, little-endian 0x184D2204).
var lz4FrameMagic = []byte{0x04, 0x22, 0x4d, 0x18}

// storedBody is an inbox body as it is being prepared for its row: compressed meanwhile when
// it is large.
type storedBody struct {
	body       []byte
	compressed chan []byte // nil: stored as received
}

// prepareInboxBody starts preparing entry's body for the inbox, in the background when it is
// compressed, so that the compression overlaps the delivery's own writes.
func prepareInboxBody(entry InboxEntry) *storedBody {
	b := &storedBody{body: entry.Body}
	if len(entry.Body) >= compressInboxFrom && entry.Operation != receiptsOperation {
		b.compressed = make(chan []byte, 1) // buffered: nobody waits when the delivery fails
		go func() { b.compressed <- compressInboxBody(entry.Body) }()
	}
	return b
}

// row is the body's column value and, when it is compressed, the length of the body as
// received (nil when stored as received).
func (b *storedBody) row() (stored []byte, length *int64) {
	if b.compressed == nil {
		return b.body, nil
	}
	c := <-b.compressed
	if c == nil {
		return b.body, nil
	}
	n := int64(len(b.body))
	return c, &n
}

// compressInboxBody is body as an lz4 frame, or nil when compressing saves less than an
// eighth (a body of random text: it is stored as received).
func compressInboxBody(body []byte) []byte {
	out := bytes.NewBuffer(make([]byte, 0, len(body)/4))
	w := lz4.NewWriter(out)
	// 256 KB blocks: the compressor's buffers stay small (its default, 4 MB, holds 8 MB) and
	// the ratio is that of 4 MB blocks within 1% on a catalogue. The frame carries the body's
	// size, so that reading it back allocates the body once, and a checksum of it.
	err := w.Apply(lz4.BlockSizeOption(lz4.Block256Kb), lz4.ConcurrencyOption(1), lz4.SizeOption(uint64(len(body))))
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil || out.Len() > len(body)-len(body)/8 {
		return nil
	}
	return out.Bytes()
}

// InboxBodyOf is an inbox row's body as received, whatever way it is stored: stored is the
// column's bytes. A body stored as received is returned as is (not copied).
func InboxBodyOf(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, lz4FrameMagic) {
		return stored, nil
	}
	size, err := lz4ContentSize(stored)
	if err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := lz4.NewReader(bytes.NewReader(stored)).WriteTo(out); err != nil {
		return nil, fmt.Errorf("inbox body: %w", err)
	}
	if out.Len() != size {
		return nil, fmt.Errorf("inbox body: %d bytes, its frame says %d", out.Len(), size)
	}
	return out.Bytes(), nil
}

// maxInboxBody bounds the size a stored frame may declare (bodies are limited to tens of MB by
// the spec's x-body-limit): a damaged frame never makes the reader allocate gigabytes.
const maxInboxBody = 1 << 30

// lz4ContentSize reads the body's size from the frame's descriptor (compressInboxBody always
// writes it): the flags byte after the magic, its bit 3 telling that the 8-byte
// little-endian size follows the block descriptor byte.
func lz4ContentSize(frame []byte) (int, error) {
	if len(frame) < 14 || frame[4]&0x08 == 0 {
		return 0, errors.New("inbox body: an lz4 frame without its size")
	}
	size := binary.LittleEndian.Uint64(frame[6:14])
	if size > maxInboxBody {
		return 0, fmt.Errorf("inbox body: an lz4 frame of %d bytes", size)
	}
	return int(size), nil
}
