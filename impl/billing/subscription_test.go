package billing

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func ev(t string, seq int64, extra func(*Event)) Event {
	e := Event{Type: t, SequenceNumber: &seq}
	if extra != nil {
		extra(&e)
	}
	return e
}

func TestFold(t *testing.T) {
	trial, plan := "P14DT", "pro"
	created := ev("SubscriptionCreated", 1, func(e *Event) { e.TrialPeriodDuration = &trial })
	activated := ev("subscriptionACTIVATED", 2, nil)
	terms := ev("SubscriptionTermsChanged", 3, func(e *Event) { e.PlanID = &plan })
	requested := ev("SubscriptionTerminationRequested", 4, nil)
	terminated := ev("SubscriptionTerminated", 5, nil)
	unknown := ev("SomethingNew", 6, nil)

	cases := []struct {
		name   string
		events []Event
		status string
		term   bool
	}{
		{"nothing", nil, StatusPending, false},
		{"trial", []Event{created}, StatusTrial, false},
		{"active, any order", []Event{terms, created, activated}, StatusActive, false},
		{"termination requested stays active", []Event{created, activated, requested}, StatusActive, true},
		{"terminated", []Event{requested, terminated, created, activated}, StatusTerminated, true},
		{"unknown type changes nothing", []Event{created, unknown}, StatusTrial, false},
	}
	for _, c := range cases {
		s := Fold(c.events)
		if s.Status != c.status || s.TerminationRequested != c.term {
			t.Errorf("%s: %s term=%v, want %s term=%v", c.name, s.Status, s.TerminationRequested, c.status, c.term)
		}
	}
	if s := Fold([]Event{terms, created}); s.PlanID == nil || *s.PlanID != "pro" || *s.LastSequence != 3 {
		t.Errorf("terms after creation: %+v", s)
	}
}

// TestParseEventMatchesNamesExactly: a stored body is folded as it was validated; members whose
// names differ only by case are not read (encoding/json alone would take the last of them).
func TestParseEventMatchesNamesExactly(t *testing.T) {
	e, err := ParseEvent([]byte(`{"type":"SubscriptionCreated","TYPE":"SubscriptionTerminated","userId":"u","USERID":"x","sequenceNumber":1,"SequenceNumber":9}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "SubscriptionCreated" || e.UserID != "u" || e.SequenceNumber == nil || *e.SequenceNumber != 1 {
		t.Fatalf("parsed %+v", e)
	}
}

// eventGen makes subscription events of every kind (unknown types and odd cases included),
// numbered from 1 to 30 or not at all, each field present or not.
func eventGen() *rapid.Generator[Event] {
	types := []string{"SubscriptionCreated", "SubscriptionActivated", "subscriptionrenewed", "SubscriptionTermsChanged",
		"AddonsUpdated", "SubscriptionTerminationRequested", "SUBSCRIPTIONTERMINATED", "SomethingNew"}
	optional := func(t *rapid.T, label string, values ...string) *string {
		if !rapid.Bool().Draw(t, label+" present") {
			return nil
		}
		v := rapid.SampledFrom(values).Draw(t, label)
		return &v
	}
	return rapid.Custom(func(t *rapid.T) Event {
		e := Event{Type: rapid.SampledFrom(types).Draw(t, "type"), PlanID: optional(t, "plan", "starter", "pro"),
			TrialPeriodDuration: optional(t, "trial", "", "P14DT"), NextBillingDate: optional(t, "next", "2026-01-01T00:00:00+0000", "2027-01-01T00:00:00+0000")}
		if rapid.IntRange(0, 4).Draw(t, "numbered") > 0 {
			n := rapid.Int64Range(1, 30).Draw(t, "seq")
			e.SequenceNumber = &n
		}
		if rapid.Bool().Draw(t, "devices present") {
			n := rapid.Int64Range(1, 9).Draw(t, "devices")
			e.DeviceNumber = &n
		}
		if a := rapid.SampledFrom([]string{"", "null", `[{"id":"a","quantity":1}]`}).Draw(t, "addons"); a != "" {
			e.Addons = json.RawMessage(a)
		}
		return e
	})
}

// TestStepIsFoldOfOneMore: an event numbered above all the others, stepped from their folded
// state, gives the state all of them fold to, whatever those others are and however ordered.
func TestStepIsFoldOfOneMore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		events := rapid.SliceOfN(eventGen(), 0, 12).Draw(t, "events")
		next := eventGen().Draw(t, "next")
		top := int64(0)
		for _, e := range events {
			if e.SequenceNumber != nil {
				top = max(top, *e.SequenceNumber)
			}
		}
		n := top + rapid.Int64Range(1, 3).Draw(t, "after")
		next.SequenceNumber = &n
		want := Fold(append(slices.Clone(events), next))
		if got := Step(Fold(events), next); !reflect.DeepEqual(got, want) {
			t.Fatalf("stepped %+v, folded %+v", got, want)
		}
	})
}
