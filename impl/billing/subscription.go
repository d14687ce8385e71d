// Package billing holds Evotor's subscription rules: how a subscription's state follows from
// its events. Pure functions, no storage.
package billing

import (
	"encoding/json"
	"sort"
	"strings"
)

// Statuses a subscription can be in.
const (
	StatusTrial      = "trial"      // created with a trial period
	StatusPending    = "pending"    // created, waiting for the first payment
	StatusActive     = "active"     // paid
	StatusTerminated = "terminated" // ended
)

// Event is what the state needs of one subscription event.
type Event struct {
	Type                string
	SequenceNumber      *int64
	UserID              string
	ProductID           string
	PlanID              *string
	TrialPeriodDuration *string
	DeviceNumber        *int64
	NextBillingDate     *string
	Addons              json.RawMessage
}

// ParseEvent reads the fields the state needs from a stored event body. Member names match
// exactly, as the validator checked them: encoding/json alone would also take "TYPE" or
// "userid" for them, so a body could be validated as one event and folded as another.
func ParseEvent(body []byte) (Event, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return Event{}, err
	}
	var e Event
	fields := map[string]any{"type": &e.Type, "sequenceNumber": &e.SequenceNumber, "userId": &e.UserID,
		"productId": &e.ProductID, "planId": &e.PlanID, "trialPeriodDuration": &e.TrialPeriodDuration,
		"deviceNumber": &e.DeviceNumber, "nextBillingDate": &e.NextBillingDate, "addons": &e.Addons}
	for name, dst := range fields {
		if raw, ok := members[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return Event{}, err
			}
		}
	}
	return e, nil
}

// State is a subscription's current state.
type State struct {
	Status               string
	TerminationRequested bool // active until the paid period ends
	PlanID               *string
	DeviceNumber         *int64
	NextBillingDate      *string
	Addons               json.RawMessage
	LastSequence         *int64
}

// Fold applies events in sequence order, whatever order they arrived in, so a late older event
// lands where it belongs instead of rolling the state back. Event types are matched
// case-insensitively; unknown types change nothing.
func Fold(events []Event) State {
	sorted := append([]Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return seq(sorted[i]) < seq(sorted[j]) })
	s := State{Status: StatusPending}
	for _, e := range sorted {
		s = Step(s, e)
	}
	return s
}

// Step is the state after one more event: Fold(append(events, e)) is Step(Fold(events), e)
// when e's sequence number is above all of theirs. An event in order (Evotor numbers a
// subscription's events) so costs the same however many came before it.
func Step(s State, e Event) State {
	switch strings.ToLower(e.Type) {
	case "subscriptioncreated":
		s.Status = StatusPending
		if e.TrialPeriodDuration != nil && *e.TrialPeriodDuration != "" {
			s.Status = StatusTrial
		}
		s.TerminationRequested = false
		s.applyTerms(e)
	case "subscriptionactivated", "subscriptionrenewed":
		s.Status = StatusActive
		s.applyTerms(e)
	case "subscriptiontermschanged", "addonsupdated":
		s.applyTerms(e)
	case "subscriptionterminationrequested":
		s.TerminationRequested = true
	case "subscriptionterminated":
		s.Status = StatusTerminated
	default:
		return s
	}
	if e.SequenceNumber != nil {
		s.LastSequence = e.SequenceNumber
	}
	return s
}

// applyTerms takes the fields an event carries ("fields come only if changed").
func (s *State) applyTerms(e Event) {
	if e.PlanID != nil {
		s.PlanID = e.PlanID
	}
	if e.DeviceNumber != nil {
		s.DeviceNumber = e.DeviceNumber
	}
	if e.NextBillingDate != nil {
		s.NextBillingDate = e.NextBillingDate
	}
	if len(e.Addons) > 0 && string(e.Addons) != "null" {
		s.Addons = e.Addons
	}
}

// seq orders events without a sequence number first (they cannot be placed).
func seq(e Event) int64 {
	if e.SequenceNumber == nil {
		return -1 << 63
	}
	return *e.SequenceNumber
}
