package installation

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestApply(t *testing.T) {
	s := Apply(State{}, Event{Type: "applicationinstalled", OccurredMs: 10})
	if !s.Changed || !s.Next.Installed || s.RevokeTokens {
		t.Fatalf("first install: %+v", s)
	}
	u := Apply(s.Next, Event{Type: Uninstalled, OccurredMs: 20})
	if !u.Changed || u.Next.Installed || !u.RevokeTokens {
		t.Fatalf("uninstall: %+v", u)
	}
	if late := Apply(u.Next, Event{Type: Installed, OccurredMs: 15}); late.Changed || late.RevokeTokens || late.Next != u.Next {
		t.Fatalf("an older install arriving late changed the state: %+v", late)
	}
	if odd := Apply(u.Next, Event{Type: "ApplicationUpdated", OccurredMs: 30}); odd.Changed || odd.Next != u.Next {
		t.Fatalf("an unknown type changed the state: %+v", odd)
	}
}

// TestNewestEventWinsInAnyOrder (property): events with distinct times, applied in any order,
// end in the state the newest of them says.
func TestNewestEventWinsInAnyOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		times := rapid.SliceOfNDistinct(rapid.Int64Range(0, 1e6), 1, 12, rapid.ID).Draw(t, "times")
		events := make([]Event, len(times))
		for i, ms := range times {
			events[i] = Event{Type: rapid.SampledFrom([]string{Installed, Uninstalled}).Draw(t, "type"), OccurredMs: ms}
		}
		order := rapid.Permutation(events).Draw(t, "order")
		var s State
		for _, ev := range order {
			s = Apply(s, ev).Next
		}
		newest := slices.MaxFunc(events, func(a, b Event) int { return int(a.OccurredMs - b.OccurredMs) })
		if s.Installed != (newest.Type == Installed) || s.LastEventMs != newest.OccurredMs {
			t.Fatalf("state %+v, newest event %+v", s, newest)
		}
	})
}
