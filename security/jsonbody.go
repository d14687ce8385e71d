package security

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

var registerJSONDecoder sync.Once

// strictJSONBody replaces kin-openapi's application/json decoder, which stops after the first
// value: `[...] {}` would validate while the inbox kept the trailing garbage. Exactly one JSON
// value, and nothing but white space after it, is a body.
func strictJSONBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: "content after the JSON value"}
	}
	return value, nil
}
