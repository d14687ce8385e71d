package security

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"
	"github.com/valyala/fastjson"

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

// Bind binds the validated body into i; the body of an operation whose handler reads it
// itself is left unbound: read item by item (BodyItems), or from the tree (BodyTree).
func (ExactBinder) Bind(i any, c echo.Context) error {
	ctx := c.Request().Context()
	raw, ok := validatedBody(ctx)
	if !ok {
		return apperr.Because(apperr.Malformed, "body", "body was not validated")
	}
	s := stateOf(ctx)
	if s.items != nil && s.reading == "items" || s.doc != nil && s.reading == "tree" {
		return nil
	}
	return BindExact(raw, i)
}

// BodyTree returns the validated body as the tree its schema was checked on, for a hot-path
// handler to read its values from without parsing the body a third time (receipts): the values
// it stores are then the very values that were validated. The tree is the validator's, reused
// once the handler returns or calls ReleaseBodyTree: copy what is kept (string(…) copies).
func BodyTree(ctx context.Context) (*fastjson.Value, error) {
	s := stateOf(ctx)
	if s == nil || !s.validated || s.doc == nil {
		return nil, apperr.Because(apperr.Malformed, "body", "body was not checked whole")
	}
	return s.doc.root, nil
}

// ReleaseBodyTree gives the tree back as soon as the handler has read it, rather than when it
// returns: a large body's tree (several times the body) is not held while the handler waits
// for the database.
func ReleaseBodyTree(ctx context.Context) {
	if s := stateOf(ctx); s != nil {
		s.releaseDoc()
	}
}

// releaseDoc gives the body's tree back to the validator's pool (once; the validator calls it
// when the handler returned).
func (s *requestState) releaseDoc() {
	if s.doc != nil {
		s.doc.release()
		s.doc = nil
	}
}

// Element is one value of a body read from the tree: an element of an array body, or the
// whole body; Raw is exactly as received (a slice of the body), At where it starts.
type Element struct {
	At  int
	Raw []byte
}

// BodyElements are the values of a body read from the tree (x-body-reading: tree): each
// element of an array body, or the whole body when it is not an array.
func BodyElements(ctx context.Context) ([]Element, error) {
	s := stateOf(ctx)
	if s == nil || !s.validated || s.reading != "tree" {
		return nil, apperr.Because(apperr.Malformed, "body", "body was not read from its tree")
	}
	if s.items == nil {
		return []Element{{At: 0, Raw: s.body}}, nil
	}
	elements := make([]Element, len(s.items))
	for i, span := range s.items {
		elements[i] = Element{At: span.start, Raw: s.body[span.start:span.end:span.end]}
	}
	return elements, nil
}

// BodyItems returns the elements of the request's array body, each exactly as received (a
// slice of the body, not a copy), when the validator checked them one by one; else an error.
func BodyItems(ctx context.Context) (iter.Seq[[]byte], error) {
	s := stateOf(ctx)
	if s == nil || !s.validated || s.items == nil {
		return nil, apperr.Because(apperr.Malformed, "body", "body was not checked item by item")
	}
	return func(yield func([]byte) bool) {
		for _, span := range s.items {
			if !yield(s.body[span.start:span.end:span.end]) {
				return
			}
		}
	}, nil
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
