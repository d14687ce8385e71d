package billing

import "testing"

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
