package security

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// Evotor's error codes, as its reference documents them.
const (
	CodeBadAppCredential  = 1001 // app token or Basic login wrong or missing
	CodeBadUserToken      = 1002 // user token unknown or revoked
	CodeExpiredUserToken  = 1003 // user token past its lifetime
	CodePaymentRequired   = 1004
	CodeBadLoginPassword  = 1006 // user/verify: wrong login or password
	CodeMalformed         = 2001 // body is not JSON
	CodeMissing           = 2002 // a required field is absent
	CodeIncorrect         = 2003 // a field has the wrong type or value
	CodeLinkedElsewhere   = 2004 // user/verify: account belongs to another Evotor user
	CodeAlreadyRegistered = 2005 // user/create: the login is taken
)

// outcome is how one kind of failure is answered. Evotor has no codes for transport failures
// and the admin API, so there the envelope's code is the HTTP status.
type outcome struct {
	status int
	code   int // 0: the body is {} (Evotor's "resource absent")
}

// outcomes is the one table from a failure's kind to its status and Evotor code.
var outcomes = map[apperr.Kind]outcome{
	apperr.Malformed:            {http.StatusBadRequest, CodeMalformed},
	apperr.Missing:              {http.StatusBadRequest, CodeMissing},
	apperr.Incorrect:            {http.StatusBadRequest, CodeIncorrect},
	apperr.BadAppCredential:     {http.StatusUnauthorized, CodeBadAppCredential},
	apperr.BadUserToken:         {http.StatusUnauthorized, CodeBadUserToken},
	apperr.ExpiredUserToken:     {http.StatusUnauthorized, CodeExpiredUserToken},
	apperr.BadLoginPassword:     {http.StatusUnauthorized, CodeBadLoginPassword},
	apperr.BadAdminToken:        {http.StatusUnauthorized, http.StatusUnauthorized},
	apperr.PaymentRequired:      {http.StatusPaymentRequired, CodePaymentRequired},
	apperr.NotOwner:             {http.StatusNotFound, 0},
	apperr.NotFound:             {http.StatusNotFound, http.StatusNotFound},
	apperr.MethodNotAllowed:     {http.StatusMethodNotAllowed, http.StatusMethodNotAllowed},
	apperr.LoginTaken:           {http.StatusConflict, CodeAlreadyRegistered},
	apperr.LinkedElsewhere:      {http.StatusConflict, CodeLinkedElsewhere},
	apperr.TooLarge:             {http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
	apperr.HeadersTooLarge:      {http.StatusRequestHeaderFieldsTooLarge, http.StatusRequestHeaderFieldsTooLarge},
	apperr.UnsupportedMediaType: {http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType},
	apperr.TooManyAttempts:      {http.StatusTooManyRequests, http.StatusTooManyRequests},
	apperr.Unavailable:          {http.StatusServiceUnavailable, http.StatusServiceUnavailable},
	apperr.Abandoned:            {StatusAbandoned, 0},
}

// StatusAbandoned is the status a request the client gave up on is counted with (nginx's 499
// "client closed request"); it is never read, so nothing is written but the status line.
const StatusAbandoned = 499

// Status is the HTTP status a kind of failure is answered with.
func Status(k apperr.Kind) int { return outcomes[k].status }

// Envelope builds Evotor's error body {"errors":[{code, reason?, subject?}]}. Values are never
// echoed back: they may be secrets.
func Envelope(code int, reason, subject string) generated.Errors {
	e := generated.Error{Code: code}
	if reason != "" {
		e.Reason = &reason
	}
	if subject != "" {
		e.Subject = &subject
	}
	return generated.Errors{Errors: []generated.Error{e}}
}

// Answer is what a failed request gets: status and body, with what the log says of it.
type Answer struct {
	Status   int
	Body     any // generated.Errors, or {} for a resource absent
	Failure  *apperr.Error
	Internal bool // not the client's fault: logged as an error, answered without detail
}

// Code is the Evotor code the answer carries (the status for a {} body).
func (a Answer) Code() int {
	if env, ok := a.Body.(generated.Errors); ok {
		return env.Errors[0].Code
	}
	return a.Status
}

// AnswerFor maps any error a request ends with onto Evotor's status and envelope. It is the only
// place that does: the validator, the handlers and the store return errors, never responses.
func AnswerFor(err error) Answer {
	var f *apperr.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &f):
	case errors.As(err, &he):
		f = fromEcho(he)
	case errors.Is(err, context.DeadlineExceeded):
		f = apperr.Wrap(apperr.Unavailable, err)
	case errors.Is(err, context.Canceled):
		f = apperr.Wrap(apperr.Abandoned, err)
	}
	o, known := outcomes[kindOf(f)]
	if !known {
		return Answer{Status: http.StatusInternalServerError, Internal: true,
			Body: Envelope(http.StatusInternalServerError, "internal error", "")}
	}
	a := Answer{Status: o.status, Failure: f, Internal: o.status >= 500}
	if o.code == 0 {
		a.Body = struct{}{}
		return a
	}
	env := Envelope(o.code, f.ReasonText(), f.Subject)
	env.Errors[0].Value = f.Value
	a.Body = env
	return a
}

func kindOf(f *apperr.Error) apperr.Kind {
	if f == nil {
		return 0
	}
	return f.Kind
}

// fromEcho maps echo's own errors (no route, wrong method, the body limit, a bind failure).
func fromEcho(he *echo.HTTPError) *apperr.Error {
	switch he.Code {
	case http.StatusNotFound:
		return apperr.New(apperr.NotFound, "")
	case http.StatusMethodNotAllowed:
		return apperr.New(apperr.MethodNotAllowed, "")
	case http.StatusRequestEntityTooLarge:
		return apperr.New(apperr.TooLarge, "")
	case http.StatusUnsupportedMediaType:
		return apperr.New(apperr.UnsupportedMediaType, "")
	case http.StatusBadRequest:
		return apperr.Wrap(apperr.Malformed, he)
	}
	return nil
}

// ErrorHandler is echo's HTTPErrorHandler, installed once: every failure leaves through
// AnswerFor. A refusal is logged at WARN with the operation, status, Evotor code, subject and
// reason (never a value, never a header); an internal error at ERROR, answered without detail.
// A request whose client went away first (its context canceled) and then failed on the server's
// side (the database call canceled with it) is abandoned: not the server's fault nor a refusal
// Evotor saw, logged once at INFO, counted with status 499, and nothing is written but the
// status. (A refusal stays one: a body cut short is still the client's 400.)
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		ctx := c.Request().Context()
		a := AnswerFor(err)
		if errors.Is(ctx.Err(), context.Canceled) && a.Internal {
			a = AnswerFor(apperr.Wrap(apperr.Abandoned, err))
		}
		attrs := []any{"operation", OperationOf(c), "method", c.Request().Method, "path", c.Request().URL.Path, "status", a.Status}
		if a.Status == StatusAbandoned {
			logger.InfoContext(ctx, "request abandoned by the client", append(attrs, "error", err.Error())...)
			_ = c.NoContent(a.Status)
			return
		}
		switch {
		case a.Failure == nil:
			logger.ErrorContext(ctx, "request failed", append(attrs, "error", err.Error())...)
		case a.Internal:
			logger.ErrorContext(ctx, "request failed", append(attrs, "reason", a.Failure.ReasonText(), "error", err.Error())...)
		default:
			logger.WarnContext(ctx, "request refused", append(attrs, "code", a.Code(), "subject", a.Failure.Subject,
				"reason", a.Failure.ReasonText())...)
		}
		if err := c.JSON(a.Status, a.Body); err != nil {
			logger.WarnContext(ctx, "writing error response failed", "error", err.Error())
		}
	}
}
