package security

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// MaxBodyDepth caps how deeply a body nests. Evotor's deepest payloads (documents with
// transactions) nest under ten levels; JSON thousands of levels deep is refused by common
// parsers when the admin API serves it back.
const MaxBodyDepth = 64

// jsonDoc is a request body read for the compiled schemas (bodyschema.go) to check, by two
// libraries, each for what it does best:
//
//   - jsontext (go-json-experiment) decides whether the body is acceptable JSON. It is the
//     reader that binds the body into the generated types afterwards (BindExact), so what is
//     validated and what is bound are read by one grammar: exactly one JSON value, nothing but
//     white space after it, valid UTF-8 (encoding/json silently replaces invalid bytes and lone
//     surrogate escapes, so two different ids could collapse into one key), no member name
//     twice (encoding/json keeps the last: validated as one value, stored as another).
//   - fastjson then builds the tree the schemas walk, from that valid JSON, into a pooled
//     parser: no allocation per request.
//
// On top of that nothing may nest deeper than MaxBodyDepth, and no string or member name may
// hold a NUL character: no database column can.
type jsonDoc struct {
	in      bytes.Buffer
	dec     jsontext.Decoder
	parser  fastjson.Parser
	root    *fastjson.Value
	number  number  // the last number looked at (a Decimal's is judged by its anyOf, then itself)
	refusal refusal // why the last value checked was refused
	// large: the parser held a value over largeValue; it keeps memory for the largest it ever
	// parsed, so such a doc is dropped rather than pooled (one 10 MB body would otherwise pin
	// its tree's size in the pool for good).
	large bool
}

// largeValue is the size of a parsed value past which its doc is not pooled again.
const largeValue = 1 << 20

// number is a number's text and shape.
type number struct {
	value             *fastjson.Value
	text              []byte
	integer, exponent bool // written without fraction or exponent; with an exponent
}

var jsonDocs = sync.Pool{New: func() any { return new(jsonDoc) }}

// parseBody reads raw into a pooled doc, to release after use, or says why it is refused.
func parseBody(raw []byte) (*jsonDoc, *apperr.Error) {
	d := jsonDocs.Get().(*jsonDoc)
	if err := d.read(raw); err != nil {
		d.release()
		return nil, err
	}
	return d, nil
}

func (d *jsonDoc) read(raw []byte) *apperr.Error {
	if err := checkShape(raw, false); err != nil {
		return err
	}
	d.in = *bytes.NewBuffer(raw)
	d.dec.Reset(&d.in)
	if _, err := d.dec.ReadValue(); err != nil {
		return notJSON(raw, err)
	}
	if err := d.readEOF(raw); err != nil {
		return err
	}
	d.large = len(raw) > largeValue
	root, err := d.parser.ParseBytes(raw)
	if err != nil { // fastjson stops at 300 levels
		return notJSON(raw, err)
	}
	d.root = root
	if !mayHoldNULOrNestDeep(raw) {
		return nil
	}
	if err := refuseDeepOrNUL(root, bodySubject, 0); err != nil {
		if nestedDeeperThan(raw, MaxBodyDepth) {
			return tooDeep(err)
		}
		return err
	}
	return nil
}

// readEOF: nothing but white space after the body's value.
func (d *jsonDoc) readEOF(raw []byte) *apperr.Error {
	if _, err := d.dec.ReadToken(); err == nil {
		return apperr.Because(apperr.Malformed, "", "content after the JSON value")
	} else if err != io.EOF {
		return notJSON(raw, err)
	}
	return nil
}

func (d *jsonDoc) release() {
	if d.large {
		return // left to the collector, with its parser's memory
	}
	d.in, d.root, d.refusal, d.number.value = bytes.Buffer{}, nil, refusal{}, nil
	d.dec.Reset(&d.in)
	jsonDocs.Put(d)
}

// numberOf is number v as written, and its shape (valid until the next number).
func (d *jsonDoc) numberOf(v *fastjson.Value) *number {
	if n := &d.number; n.value != v {
		n.value, n.text = v, v.MarshalTo(n.text[:0])
		n.integer, n.exponent = numberShape(n.text)
	}
	return &d.number
}

// mayHoldNULOrNestDeep rules out, without walking the tree, what refuseDeepOrNUL looks for: in
// valid JSON a NUL can only be written \u0000, and nesting deeper than MaxBodyDepth needs more
// than MaxBodyDepth brackets (bytes.Count is vectorised; either test may be fooled into a walk,
// never out of one).
func mayHoldNULOrNestDeep(raw []byte) bool {
	return bytes.Contains(raw, escapedNUL) || bytes.Count(raw, openBrace)+bytes.Count(raw, openBracket) > MaxBodyDepth
}

var escapedNUL, openBrace, openBracket = []byte(`\u0000`), []byte("{"), []byte("[")

// bodySubject is the subject of the body itself, and of what no field name is nearer to.
var bodySubject = []byte("body")

// refuseDeepOrNUL walks every value and member name for nesting deeper than MaxBodyDepth and
// NUL characters; subject is the field v is, or is inside (copied into the refusal: it points
// into the pooled parser), depth the containers v is in. Nesting is refused first, whatever
// comes first in the body (the caller checks the whole body when a NUL is found).
func refuseDeepOrNUL(v *fastjson.Value, subject []byte, depth int) *apperr.Error {
	t := v.Type()
	if (t == fastjson.TypeArray || t == fastjson.TypeObject) && depth == MaxBodyDepth {
		return tooDeep(nil)
	}
	switch t {
	case fastjson.TypeString:
		if s, _ := v.StringBytes(); bytes.IndexByte(s, 0) >= 0 {
			return apperr.Because(apperr.Incorrect, string(subject), "NUL character")
		}
	case fastjson.TypeArray:
		for _, item := range v.GetArray() {
			if err := refuseDeepOrNUL(item, subject, depth+1); err != nil {
				return err
			}
		}
	case fastjson.TypeObject:
		var err *apperr.Error
		v.GetObject().Visit(func(name []byte, member *fastjson.Value) {
			switch {
			case err != nil:
			case bytes.IndexByte(name, 0) >= 0:
				err = apperr.Because(apperr.Incorrect, string(subject), "NUL character in a field name")
			default:
				err = refuseDeepOrNUL(member, name, depth+1)
			}
		})
		return err
	}
	return nil
}

// notJSON is the refusal of a body jsontext would not read, in the order the checks it replaced
// ran: invalid UTF-8, nested deeper than MaxBodyDepth, a member name repeated (the name is the
// client's, never a value), any other syntax error (described without the input it quotes).
func notJSON(raw []byte, err error) *apperr.Error {
	var se *jsontext.SyntacticError
	switch {
	case !utf8.Valid(raw):
		return &apperr.Error{Kind: apperr.Malformed, Subject: "body", Reason: "invalid UTF-8", Err: err}
	case nestedDeeperThan(raw, MaxBodyDepth):
		return tooDeep(err)
	case errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName):
		return &apperr.Error{Kind: apperr.Incorrect, Subject: fieldName(slices.Collect(se.JSONPointer.Tokens())), Reason: "field repeated", Err: err}
	}
	return apperr.Wrap(apperr.Malformed, err)
}

func tooDeep(err error) *apperr.Error {
	return &apperr.Error{Kind: apperr.Incorrect, Subject: "body", Reason: "nested deeper than " + strconv.Itoa(MaxBodyDepth) + " levels", Err: err}
}

// nestedDeeperThan scans the bytes for arrays and objects nested deeper than max, valid JSON
// or not: run on a refusal, so a body too deep is refused as such whatever else is wrong.
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

// itemSpan is where one element of an array body lies in the body.
type itemSpan struct{ start, end int }

// checkItems checks an array body one element at a time against items, without the tree of
// the whole body (for a 10 MB catalogue fastjson's tree is ~170 MB): jsontext reads the array
// element by element and each element is parsed alone into the pooled parser. It returns where
// each element lies. The refusal is the one the whole-body check (read, then check) gives: the
// body not JSON anywhere first, then nesting or a NUL anywhere, then the first element refused.
func checkItems(raw []byte, items *schemaNode) ([]itemSpan, *apperr.Error) {
	if err := checkShape(raw, true); err != nil {
		return nil, err
	}
	d := jsonDocs.Get().(*jsonDoc)
	defer d.release()
	walk := mayHoldNULOrNestDeep(raw)
	spans := []itemSpan{} // not nil: an empty array was checked too
	var treeErr error
	var deepOrNUL, refused *apperr.Error
	err := d.eachElement(raw, func(span itemSpan) {
		if treeErr != nil || deepOrNUL != nil || refused != nil {
			// The body is refused: its spans are not needed (8 million of them for a 16 MB
			// array of zeros would take hundreds of megabytes); only a NUL or too deep a
			// nesting further on, or the rest not being JSON, can still change the answer.
			if walk && refused != nil && treeErr == nil && deepOrNUL == nil {
				d.large = d.large || span.end-span.start > largeValue
				if item, err := d.parser.ParseBytes(raw[span.start:span.end]); err != nil {
					treeErr = err
				} else {
					deepOrNUL = refuseDeepOrNUL(item, bodySubject, 1)
				}
			}
			return
		}
		spans = append(spans, span)
		d.large = d.large || span.end-span.start > largeValue
		item, err := d.parser.ParseBytes(raw[span.start:span.end])
		if err != nil { // fastjson stops at 300 levels
			treeErr = err
			return
		}
		d.number.value = nil // the parser reuses its values: a cached number may be stale
		if walk {
			if deepOrNUL = refuseDeepOrNUL(item, bodySubject, 1); deepOrNUL != nil {
				return
			}
		}
		if refused == nil && !items.check(d, item, bodySubject) {
			refused = d.refusal.err() // copies the subject out of the parser
		}
	})
	if err != nil {
		return nil, err
	}
	switch {
	case treeErr != nil:
		return nil, notJSON(raw, treeErr)
	case deepOrNUL != nil && nestedDeeperThan(raw, MaxBodyDepth):
		return nil, tooDeep(deepOrNUL)
	case deepOrNUL != nil:
		return nil, deepOrNUL
	case refused != nil:
		return nil, refused
	}
	return spans, nil
}

// eachElement reads the JSON array raw holds one element at a time (jsontext, without a tree)
// and gives where each lies, to its end: the one way an array body is split.
func (d *jsonDoc) eachElement(raw []byte, element func(span itemSpan)) *apperr.Error {
	// jsontext reads a bytes.Buffer in place: the values it returns are slices of raw.
	d.in = *bytes.NewBuffer(raw)
	d.dec.Reset(&d.in)
	if _, err := d.dec.ReadToken(); err != nil { // the array's [
		return notJSON(raw, err)
	}
	for d.dec.PeekKind() != ']' {
		v, err := d.dec.ReadValue()
		if err != nil {
			return notJSON(raw, err)
		}
		end := int(d.dec.InputOffset())
		element(itemSpan{end - len(v), end})
	}
	return d.readEnd(raw)
}

// elementSpans is where each element of the (valid) JSON array raw lies.
func elementSpans(raw []byte) ([]itemSpan, *apperr.Error) {
	d := jsonDocs.Get().(*jsonDoc)
	defer d.release()
	var spans []itemSpan
	err := d.eachElement(raw, func(span itemSpan) { spans = append(spans, span) })
	return spans, err
}

// readEnd reads the array's closing bracket and makes sure nothing but white space follows.
func (d *jsonDoc) readEnd(raw []byte) *apperr.Error {
	if _, err := d.dec.ReadToken(); err != nil {
		return notJSON(raw, err)
	}
	return d.readEOF(raw)
}
