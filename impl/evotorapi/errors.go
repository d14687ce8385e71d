package evotorapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The outcomes a caller acts on, matched with errors.Is. Every error a call returns names the
// call and the HTTP status, never the token.
var (
	// ErrTokenInvalid: Evotor answered 401 — the cloud token is expired or revoked (the app was
	// uninstalled, or a newer token was issued). Mark the user's token invalid until the next
	// user/token arrives; retrying is pointless.
	ErrTokenInvalid = errors.New("cloud token invalid")
	// ErrNoToken: no usable cloud token was given (empty, or holding control characters);
	// nothing was sent.
	ErrNoToken = errors.New("no usable cloud token")
	// ErrScope: 403 — the app lacks the permission the call needs (set in the developer portal),
	// or the user has not installed it.
	ErrScope = errors.New("permission missing")
	// ErrNotInstalled: 402 — the app is not installed (paid) on the devices concerned.
	ErrNotInstalled = errors.New("app not installed on the devices")
	// ErrNotFound: 404 — no such object for this user.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: 400 (or another 4xx not listed here) — Evotor refused the request;
	// APIError.Violations say why.
	ErrBadRequest = errors.New("request refused")
	// ErrRateLimited: 429 after the retries, or a wait longer than Config.MaxDelay;
	// APIError.RetryAfter says how long Evotor asked to wait.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: 5xx after the retries, a timeout, no answer, or a redirect (the API is
	// not where the base URL says; redirects are not followed, so the token stays put).
	ErrUnavailable = errors.New("evotor unavailable")
)

// Violation is one field Evotor found at fault in a request.
type Violation struct {
	Subject string // the field (`name`)
	Reason  string // what is wrong (`must not be null`)
}

// APIError is an answer other than 2xx, after any retries.
type APIError struct {
	Op         string        // the call, as the contract's operationId (listProducts)
	Status     int           // the HTTP status
	Code       string        // Evotor's error code, when the body has one
	Message    string        // Evotor's message, token removed, at most 200 bytes
	Violations []Violation   // the fields at fault (400)
	RetryAfter time.Duration // how long Evotor asked to wait (429/503), when it said
	Attempts   int           // how many requests were made
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "evotor %s: %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	for i, v := range e.Violations {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Violations)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", v.Subject, v.Reason)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap gives the outcome the status stands for (ErrTokenInvalid for 401, …).
func (e *APIError) Unwrap() error { return outcomeOf(e.Status) }

func outcomeOf(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrTokenInvalid
	case status == http.StatusForbidden:
		return ErrScope
	case status == http.StatusPaymentRequired:
		return ErrNotInstalled
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500 || status < 400:
		return ErrUnavailable
	default:
		return ErrBadRequest
	}
}

// callError is a call that got no answer to judge (a transport failure, a timeout, a body that
// is not Evotor's JSON). Its text is the call's name and the cause, the token removed.
type callError struct {
	op       string
	attempts int
	outcome  error // ErrUnavailable for no answer; nil for a body not understood
	cause    error
	text     string
}

func (e *callError) Error() string { return e.text }

func (e *callError) Unwrap() []error {
	if e.outcome == nil {
		return []error{e.cause}
	}
	return []error{e.outcome, e.cause}
}

func newCallError(tok CloudToken, op string, attempts int, outcome, cause error) error {
	text := fmt.Sprintf("evotor %s: %v", op, cause)
	if attempts > 1 {
		text += fmt.Sprintf(" (after %d attempts)", attempts)
	}
	return &callError{op: op, attempts: attempts, outcome: outcome, cause: cause, text: tok.scrub(text)}
}
