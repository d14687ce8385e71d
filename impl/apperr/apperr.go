// Package apperr names every outcome of a request that is not a success. Handlers, the store
// and the validator return these; one function (impl's error mapper) turns each kind into its
// HTTP status and Evotor envelope, so no handler renders an error itself.
package apperr

import "fmt"

// Kind is what went wrong, as far as the caller needs to know.
type Kind int

const (
	_                    Kind = iota
	Malformed                 // 400 2001: the body is not (acceptable) JSON, or was cut short
	Missing                   // 400 2002: a required field is absent
	Incorrect                 // 400 2003: a field has a wrong type or value
	BadAppCredential          // 401 1001: app token or Basic login wrong or missing
	BadUserToken              // 401 1002: user token unknown or revoked
	ExpiredUserToken          // 401 1003: user token past its grace period
	BadLoginPassword          // 401 1006: user/verify with a wrong login or password
	BadAdminToken             // 401 (admin API): admin token wrong or missing
	PaymentRequired           // 402 1004: the payment policy is on and every subscription ended
	NotOwner                  // 404 {}: the payload names another user's object
	NotFound                  // 404: no such route (or the admin API is off), or nothing known
	MethodNotAllowed          // 405
	LoginTaken                // 409 2005: user/create with a login that exists
	LinkedElsewhere           // 409 2004: user/verify of an account linked to another Evotor user
	TooLarge                  // 413: the body is over the configured limit
	HeadersTooLarge           // 431: the headers are over 64 KiB together
	UnsupportedMediaType      // 415: the body is not application/json
	TooManyAttempts           // 429: too many failed logins lately for this login or user
	Unavailable               // 503: the database did not answer in time
	Abandoned                 // 499 (nginx's "client closed request"): the client gave up first; nobody reads the answer
)

var kindNames = map[Kind]string{
	Malformed: "malformed", Missing: "missing", Incorrect: "incorrect",
	BadAppCredential: "bad app credential", BadUserToken: "bad user token", ExpiredUserToken: "expired user token",
	BadLoginPassword: "bad login or password", BadAdminToken: "unauthorized", PaymentRequired: "payment required",
	NotOwner: "not the owner", NotFound: "not found", MethodNotAllowed: "method not allowed",
	LoginTaken: "already exists", LinkedElsewhere: "already linked", TooLarge: "too large", HeadersTooLarge: "headers too large",
	UnsupportedMediaType: "unsupported media type", TooManyAttempts: "too many attempts", Unavailable: "unavailable",
	Abandoned: "abandoned by the client",
}

// Kinds lists every kind, for tables that must cover them all.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindNames))
	for k := Malformed; k <= Abandoned; k++ {
		out = append(out, k)
	}
	return out
}

func (k Kind) String() string { return kindNames[k] }

// Error is one outcome: its kind, the field it is about (the subject, never the value), a
// reason more precise than the kind's name (safe to show and log), an optional value that is
// safe to show (Evotor's 1004 carries the user id), and the cause (never shown to the client).
type Error struct {
	Kind    Kind
	Subject string
	Reason  string
	Value   any
	Err     error
}

// ReasonText is the reason shown to the client and logged: Reason, or the kind's name.
func (e *Error) ReasonText() string {
	if e.Reason != "" {
		return e.Reason
	}
	return e.Kind.String()
}

func (e *Error) Error() string {
	msg := e.ReasonText()
	if e.Subject != "" {
		msg += " (" + e.Subject + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches any error of the same kind, so errors.Is(err, apperr.ErrUnavailable) holds for
// every wrapped unavailability, whatever its subject or cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind
}

// New is an outcome about a field.
func New(kind Kind, subject string) *Error { return &Error{Kind: kind, Subject: subject} }

// Wrap is an outcome with its cause.
func Wrap(kind Kind, err error) *Error { return &Error{Kind: kind, Err: err} }

// Sentinels to compare with errors.Is.
var (
	ErrNotOwner        = New(NotOwner, "")
	ErrLoginTaken      = New(LoginTaken, "")
	ErrLinkedElsewhere = New(LinkedElsewhere, "")
	ErrUnavailable     = New(Unavailable, "")
)

// Errorf is Wrap with a formatted cause.
func Errorf(kind Kind, format string, args ...any) *Error {
	return Wrap(kind, fmt.Errorf(format, args...))
}

// Because is an outcome with a precise reason about a field.
func Because(kind Kind, subject, reason string) *Error {
	return &Error{Kind: kind, Subject: subject, Reason: reason}
}
