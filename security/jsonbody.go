package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/runtime"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

var registerJSONDecoder sync.Once

// MaxBodyDepth caps how deeply a body nests. Evotor's deepest payloads (documents with
// transactions) nest under ten levels; JSON thousands of levels deep is refused by common
// parsers when the admin API serves it back.
const MaxBodyDepth = 64

// strictJSONBody replaces kin-openapi's application/json decoder. A body is exactly one JSON
// value in valid UTF-8 (encoding/json would silently replace invalid bytes, so two different
// ids could collapse into one key), with nothing but white space after it (`[...] {}` would
// otherwise validate while the inbox kept the trailing garbage), no deeper than MaxBodyDepth,
// and with no NUL character in any string or name (no database column can hold it).
func strictJSONBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(raw) {
		return nil, refuse(apperr.Because(apperr.Malformed, "body", "invalid UTF-8"))
	}
	if nestedDeeperThan(raw, MaxBodyDepth) {
		return nil, refuse(apperr.Because(apperr.Incorrect, "body", "nested deeper than "+strconv.Itoa(MaxBodyDepth)+" levels"))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: "content after the JSON value"}
	}
	if err := checkValue(value, "body"); err != nil {
		return nil, refuse(err)
	}
	return value, nil
}

// nestedDeeperThan scans for arrays and objects nested deeper than max, before anything is
// decoded (encoding/json itself goes 10,000 levels deep).
func nestedDeeperThan(raw []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = c == '\\'
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > max {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}

func refuse(err *apperr.Error) error {
	return &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
}

// checkValue walks a decoded body; subject is the name of the field v is (or is inside).
func checkValue(v any, subject string) *apperr.Error {
	switch v := v.(type) {
	case string:
		if reason := textProblem(v); reason != "" {
			return apperr.Because(apperr.Incorrect, subject, reason)
		}
	case []any:
		for _, item := range v {
			if err := checkValue(item, subject); err != nil {
				return err
			}
		}
	case map[string]any:
		for name, item := range v {
			if reason := textProblem(name); reason != "" {
				return apperr.Because(apperr.Incorrect, subject, reason+" in a field name")
			}
			if err := checkValue(item, name); err != nil {
				return err
			}
		}
	}
	return nil
}

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

// ExactBinder is echo's Binder for the generated strict handlers: it binds a body from the
// value the validator decoded and checked, matching member names exactly. It never decodes the
// body a second time: encoding/json matches names case-insensitively, so
// {"type":"A","TYPE":"B"} would be validated as one value and stored as another.
type ExactBinder struct{}

// Bind binds the validated body into i.
func (ExactBinder) Bind(i any, c echo.Context) error {
	vb, ok := c.Request().Body.(interface{ ValidatedValue() any })
	if !ok {
		return apperr.Because(apperr.Malformed, "body", "body was not validated")
	}
	return BindExact(vb.ValidatedValue(), i)
}

// BindExact binds one validated value (a body, or an element of a union body) into dst,
// matching member names exactly.
func BindExact(value any, dst any) error {
	if err := runtime.BindJSONValue(value, dst); err != nil {
		// The schema passed, so only a number the Go type cannot hold is left (an integer
		// beyond int64).
		subject := unfitNumber(value, "")
		if subject == "" {
			subject = "body"
		}
		return &apperr.Error{Kind: apperr.Incorrect, Subject: subject, Reason: "number out of range", Err: err}
	}
	return nil
}

// unfitNumber names the first field holding an integer outside int64 ("" when none).
func unfitNumber(v any, subject string) string {
	switch v := v.(type) {
	case json.Number:
		if n, ok := new(big.Int).SetString(v.String(), 10); ok && !n.IsInt64() {
			return subject
		}
	case []any:
		for _, item := range v {
			if s := unfitNumber(item, subject); s != "" {
				return s
			}
		}
	case map[string]any:
		for name, item := range v {
			if s := unfitNumber(item, name); s != "" {
				return s
			}
		}
	}
	return ""
}
