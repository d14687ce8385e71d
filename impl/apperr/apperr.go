// Package apperr names every outcome of a request that is not a success. Handlers, the store
// and the validator return these; one function (impl's error mapper) turns each kind into its
// HTTP status and Evotor envelope, so no handler renders an error itself.
package apperr

import "fmt"

// Kind is what went wrong, as far as the caller needs to know.
type Kind int

const (
	_                Kind = iota
	Malformed             // 400 2001: the body is not (acceptable) JSON
	Missing               // 400 2002: a required field is absent
	Incorrect             // 400 2003: a field has a wrong type or value
	BadLoginPassword      // 401 1006: user/verify with a wrong login or password
	PaymentRequired       // 402 1004: the payment policy is on and every subscription ended
	NotOwner              // 404 {}: the payload names another user's object
	LoginTaken            // 409 2005: user/create with a login that exists
	LinkedElsewhere       // 409 2004: user/verify of an account linked to another Evotor user
	Unavailable           // 503: the database did not answer in time
)

var kindNames = map[Kind]string{
	Malformed: "malformed", Missing: "missing", Incorrect: "incorrect", BadLoginPassword: "bad login or password",
	PaymentRequired: "payment required", NotOwner: "not the owner", LoginTaken: "already exists",
	LinkedElsewhere: "already linked", Unavailable: "unavailable",
}

func (k Kind) String() string { return kindNames[k] }

// Error is one outcome: its kind, the field it is about (the subject, never the value), an
// optional value that is safe to show (Evotor's 1004 carries the user id), and the cause.
type Error struct {
	Kind    Kind
	Subject string
	Value   any
	Err     error
}

func (e *Error) Error() string {
	msg := e.Kind.String()
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
