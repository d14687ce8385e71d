package security

import (
	"encoding/json"
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

// Missing is the 2002 envelope for an absent required field.
func Missing(subject string) generated.Errors { return Envelope(CodeMissing, "missing", subject) }

// Incorrect is the 2003 envelope for a field with a wrong type or value.
func Incorrect(subject string) generated.Errors {
	return Envelope(CodeIncorrect, "incorrect", subject)
}

// PaymentRequired is the 1004 envelope; the value is the Evotor user id (not a secret), as in
// Evotor's own example.
func PaymentRequired(userID string) generated.Errors {
	e := Envelope(CodePaymentRequired, "payment required", "userUuid")
	e.Errors[0].Value = userID
	return e
}

// Failure is an error that already knows its HTTP status and Evotor envelope.
type Failure struct {
	Status int
	Body   generated.Errors
}

func (f *Failure) Error() string { return http.StatusText(f.Status) }

func fail(status int, body generated.Errors) *Failure { return &Failure{Status: status, Body: body} }

// transportFailure maps echo's own errors (no route, wrong method, body too large, …) onto the
// envelope. Evotor has no codes for these, so the code is the HTTP status.
func transportFailure(status int) *Failure {
	reason := map[int]string{
		http.StatusNotFound:              "not found",
		http.StatusMethodNotAllowed:      "method not allowed",
		http.StatusRequestEntityTooLarge: "too large",
		http.StatusUnsupportedMediaType:  "unsupported media type",
	}[status]
	if reason == "" {
		status, reason = http.StatusInternalServerError, "internal error"
	}
	return fail(status, Envelope(status, reason, ""))
}

// ErrorHandler is echo's HTTPErrorHandler: every failure leaves in Evotor's envelope. Internal
// errors are logged (never with the request's headers) and answered without detail.
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var f *Failure
		var he *echo.HTTPError
		switch {
		case errors.As(err, &f):
		case errors.As(err, &he) && he.Code != http.StatusInternalServerError:
			f = transportFailure(he.Code)
		case errors.Is(err, apperr.ErrUnavailable): // the database did not answer in time: Evotor re-sends
			logger.WarnContext(c.Request().Context(), "database unavailable",
				"method", c.Request().Method, "path", c.Request().URL.Path, "error", err.Error())
			f = fail(http.StatusServiceUnavailable, Envelope(http.StatusServiceUnavailable, "unavailable", ""))
		default:
			logger.ErrorContext(c.Request().Context(), "handler failed",
				"method", c.Request().Method, "path", c.Request().URL.Path, "error", err.Error())
			f = transportFailure(http.StatusInternalServerError)
		}
		body, _ := json.Marshal(f.Body)
		if err := c.JSONBlob(f.Status, body); err != nil {
			logger.Warn("writing error response failed", "error", err.Error())
		}
	}
}
