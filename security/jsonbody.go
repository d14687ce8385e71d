package security

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// textProblem says why a string cannot be stored, or "" when it can.
func textProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "NUL character"
	case !utf8.ValidString(s):
		return "invalid UTF-8"
	}
	return ""
}

// ExactBinder is echo's Binder for the generated strict handlers: it binds the body the
// validator accepted, from its raw bytes, with json v2 (go-json-experiment), which matches
// member names exactly. encoding/json matches them case-insensitively, so {"type":"A","TYPE":"B"}
// would be validated as one value and stored as another.
type ExactBinder struct{}

// Bind binds the validated body into i.
func (ExactBinder) Bind(i any, c echo.Context) error {
	raw, ok := validatedBody(c.Request().Context())
	if !ok {
		return apperr.Because(apperr.Malformed, "body", "body was not validated")
	}
	return BindExact(raw, i)
}

// BindExact binds one validated JSON value (a body, or an element of an array body) into dst,
// matching member names exactly. The schema passed, so what can still fail is a number the Go
// type cannot hold (1.0 for an integer): a 2003 on that field.
func BindExact(raw []byte, dst any) error {
	var err error
	if bytes.IndexByte(raw, '\\') < 0 {
		// No escape anywhere: every string is in its minimal form already, and json's own
		// binding is the same at half the cost (BindExact runs for every receipt).
		err = json.Unmarshal(raw, dst)
	} else {
		err = json.Unmarshal(raw, dst, canonicalUnionStrings)
	}
	if err != nil {
		subject := "body"
		var se *json.SemanticError
		if errors.As(err, &se) {
			subject = fieldName(slices.Collect(se.JSONPointer.Tokens()))
		}
		return &apperr.Error{Kind: apperr.Incorrect, Subject: subject, Reason: "does not fit its type", Err: err}
	}
	return nil
}

// canonicalUnionStrings hands the generated number-or-string unions (Decimal, Millis, a phone),
// which keep their JSON as is, a string in its minimal JSON form: "\u0031" is kept as "1",
// the value validated, not as the escape it was written with.
var canonicalUnionStrings = json.WithUnmarshalers(json.UnmarshalFromFunc(func(dec *jsontext.Decoder, u json.Unmarshaler) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if v.Kind() == '"' {
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return err
		}
		if v, err = jsontext.AppendQuote(nil, s); err != nil {
			return err
		}
	}
	return u.UnmarshalJSON(v)
}))
