// Package installation holds Evotor's installation rules: which event decides whether the app
// is installed for a user, and what an uninstall does. Pure functions, no storage (the store
// loads, locks and saves; see billing for the subscription rules).
package installation

import "strings"

// Event types Evotor sends (compared case-insensitively).
const (
	Installed   = "ApplicationInstalled"
	Uninstalled = "ApplicationUninstalled"
)

// State is one (user, product) installation as far as the events received tell.
type State struct {
	Known       bool  // some install or uninstall event was applied
	Installed   bool  // the newest applied event was an install
	LastEventMs int64 // when the newest applied event happened (Evotor's timestamp)
}

// Event is what the rule needs of an installation event.
type Event struct {
	Type       string
	OccurredMs int64
}

// Outcome is what applying an event means.
type Outcome struct {
	Next         State
	Changed      bool // Next differs from the state before: save it
	RevokeTokens bool // an uninstall ends every user token (a reinstall registers again)
}

// Apply is the rule: the newest event wins, whatever order events arrive in (an older one
// arriving late is kept by the store but changes nothing); an event of an unknown type changes
// nothing; an applied uninstall revokes the user's tokens.
func Apply(s State, ev Event) Outcome {
	if !Decides(ev.Type) {
		return Outcome{Next: s}
	}
	installed := strings.EqualFold(ev.Type, Installed)
	if s.Known && ev.OccurredMs < s.LastEventMs {
		return Outcome{Next: s}
	}
	next := State{Known: true, Installed: installed, LastEventMs: ev.OccurredMs}
	return Outcome{Next: next, Changed: next != s, RevokeTokens: !installed}
}

// Decides reports whether an event of this type can change an installation (install or
// uninstall); other types are kept but decide nothing.
func Decides(eventType string) bool {
	return strings.EqualFold(eventType, Installed) || strings.EqualFold(eventType, Uninstalled)
}
