package security

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// TestIsEvotorUUIDIsTheShape: the hand-written check agrees with the shape's regular
// expression on uuids of any case, near misses and arbitrary strings.
func TestIsEvotorUUIDIsTheShape(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	near := rapid.Custom(func(t *rapid.T) string {
		b := []byte("20170928-3176-40EB-80E2-A11F032E282a")
		for range rapid.IntRange(0, 2).Draw(t, "changes") {
			b[rapid.IntRange(0, len(b)-1).Draw(t, "at")] = rapid.SampledFrom([]byte("0aFg-Z \x00é")).Draw(t, "to")
		}
		return string(b)
	})
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(near, rapid.String(), rapid.StringMatching(shape.String())).Draw(t, "id")
		if got, want := evotor.IsUUID(s), shape.MatchString(s); got != want {
			t.Fatalf("evotor.IsUUID(%q) = %v, the shape says %v", s, got, want)
		}
	})
}
