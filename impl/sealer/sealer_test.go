package sealer

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealer(t *testing.T) {
	s, err := New(make([]byte, SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("cloud"), "01-000000000000001")
	if got, err := s.Open(sealed, "01-000000000000001"); err != nil || string(got) != "cloud" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(sealed, "01-000000000000002"); err == nil {
		t.Fatal("opened under another label")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, "01-000000000000001"); err == nil {
		t.Fatal("tampered value opened")
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

// TestSealerKeyring: the first key seals, every key opens; a ring without the sealing key
// does not open.
func TestSealerKeyring(t *testing.T) {
	keyA, keyB, keyC := bytes.Repeat([]byte{1}, SecretKeySize), bytes.Repeat([]byte{2}, SecretKeySize), bytes.Repeat([]byte{3}, SecretKeySize)
	oldRing, _ := New(keyB)
	newRing, err := New(keyA, keyB)
	if err != nil {
		t.Fatal(err)
	}
	sealedByB := oldRing.Seal([]byte("cloud"), "u1")
	if got, err := newRing.Open(sealedByB, "u1"); err != nil || string(got) != "cloud" {
		t.Fatalf("a value sealed with the second key: %q %v", got, err)
	}
	sealedByNew := newRing.Seal([]byte("cloud"), "u1")
	onlyA, _ := New(keyA)
	if got, err := onlyA.Open(sealedByNew, "u1"); err != nil || string(got) != "cloud" {
		t.Fatalf("the ring did not seal with its first key: %q %v", got, err)
	}
	if _, err := oldRing.Open(sealedByNew, "u1"); !errors.Is(err, ErrNotSealedHere) {
		t.Fatalf("opened with a key that did not seal it: %v", err)
	}
	otherRing, _ := New(keyC, keyB)
	if _, err := otherRing.Open(onlyA.Seal([]byte("x"), "u1"), "u1"); !errors.Is(err, ErrNotSealedHere) {
		t.Fatalf("a ring without the sealing key opened the value: %v", err)
	}
	if _, err := New(); err == nil {
		t.Fatal("a sealer without keys")
	}
	if _, err := New(keyA, []byte("short")); err == nil {
		t.Fatal("a short second key accepted")
	}
}

// TestSealedWithFirst: only a ring whose first key sealed a value says so.
func TestSealedWithFirst(t *testing.T) {
	keyA, keyB := bytes.Repeat([]byte{1}, SecretKeySize), bytes.Repeat([]byte{2}, SecretKeySize)
	ringA, _ := New(keyA)
	sealed := ringA.Seal([]byte("x"), "label")
	ringAB, _ := New(keyA, keyB)
	ringBA, _ := New(keyB, keyA)
	if !ringA.SealedWithFirst(sealed, "label") || !ringAB.SealedWithFirst(sealed, "label") {
		t.Fatal("a ring whose first key sealed the value does not say so")
	}
	if ringBA.SealedWithFirst(sealed, "label") || ringA.SealedWithFirst(sealed, "other label") || ringA.SealedWithFirst([]byte("short"), "label") {
		t.Fatal("SealedWithFirst of a value the first key did not seal")
	}
	if _, err := ringBA.Open(sealed, "label"); err != nil {
		t.Fatal("the ring still opens it with its second key")
	}
}
