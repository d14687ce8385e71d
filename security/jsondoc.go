package security

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// MaxBodyDepth caps how deeply a body nests. Evotor's deepest payloads (documents with
// transactions) nest under ten levels; JSON thousands of levels deep is refused by common
// parsers when the admin API serves it back.
const MaxBodyDepth = 64

// jsonDoc is a request body read once into a flat tree for the compiled schemas to check.
//
// It is read by jsontext (go-json-experiment), the same strict reader that binds the body into
// the generated types afterwards (BindExact), so what is validated and what is bound are read
// by one grammar: exactly one JSON value, nothing but white space after it, valid UTF-8
// (encoding/json would silently replace invalid bytes and lone surrogate escapes, so two
// different ids could collapse into one key), and no member name twice (encoding/json keeps the
// last, so a value could be validated as one and stored as another). On top of that, no string
// or name may hold a NUL character (no database column can) and nothing may nest deeper than
// MaxBodyDepth. Docs are pooled: a request parses without allocating but for one copy of the
// body as a string, which every node's text slices.
type jsonDoc struct {
	nodes []jsonNode
	text  string // the body as a string
	in    bytes.Buffer
	dec   jsontext.Decoder
	quote []byte // scratch for unescaping
}

// jsonNode is one value of a jsonDoc; a container's members are linked through next.
type jsonNode struct {
	kind  jsontext.Kind // '{', '[', '"', '0' (number), 't', 'f', 'n'
	text  string        // a string's value, unescaped, or a number as written
	name  string        // the member's name, inside an object
	first int32         // first member or element; -1 when none
	next  int32         // next sibling; -1 when none
}

var jsonDocs = sync.Pool{New: func() any { return new(jsonDoc) }}

// parseBody reads raw into a pooled doc (release it after use) or says why it is refused.
func parseBody(raw []byte) (*jsonDoc, *apperr.Error) {
	d := jsonDocs.Get().(*jsonDoc)
	d.nodes, d.text = d.nodes[:0], string(raw)
	d.in = *bytes.NewBuffer(raw)
	d.dec.Reset(&d.in)
	if _, err := d.value(0, "body"); err != nil {
		d.release()
		return nil, err
	}
	if tok, err := d.dec.ReadToken(); err != io.EOF {
		d.release()
		if err == nil && tok.Kind() != 0 {
			return nil, apperr.Because(apperr.Malformed, "", "content after the JSON value")
		}
		return nil, notJSON(err)
	}
	return d, nil
}

func (d *jsonDoc) release() {
	d.text, d.in = "", bytes.Buffer{}
	d.dec.Reset(&d.in)
	jsonDocs.Put(d)
}

// at is the node i (a node's first or next), or nil for -1.
func (d *jsonDoc) at(i int32) *jsonNode {
	if i < 0 {
		return nil
	}
	return &d.nodes[i]
}

// value reads the next value (at depth containers deep) into a node. subject names the field
// it is, or is inside, for a refusal.
func (d *jsonDoc) value(depth int, subject string) (int32, *apperr.Error) {
	kind := d.dec.PeekKind()
	switch kind {
	case 0:
		_, err := d.dec.ReadToken()
		return -1, notJSON(err)
	case '{', '[':
		if depth >= MaxBodyDepth {
			return -1, apperr.Because(apperr.Incorrect, "body", "nested deeper than "+strconv.Itoa(MaxBodyDepth)+" levels")
		}
		return d.container(kind, depth+1, subject)
	}
	text, err := d.scalar()
	if err != nil {
		return -1, err
	}
	if kind == '"' && strings.IndexByte(text, 0) >= 0 {
		return -1, apperr.Because(apperr.Incorrect, subject, "NUL character")
	}
	return d.add(jsonNode{kind: kind, text: text}), nil
}

func (d *jsonDoc) container(kind jsontext.Kind, depth int, subject string) (int32, *apperr.Error) {
	if _, err := d.dec.ReadToken(); err != nil {
		return -1, notJSON(err)
	}
	at := d.add(jsonNode{kind: kind})
	end := jsontext.Kind(']')
	if kind == '{' {
		end = '}'
	}
	last := int32(-1)
	for d.dec.PeekKind() != end {
		name, inner := "", subject
		if kind == '{' {
			var err *apperr.Error
			if name, err = d.scalar(); err != nil {
				return -1, err
			}
			if strings.IndexByte(name, 0) >= 0 {
				return -1, apperr.Because(apperr.Incorrect, subject, "NUL character in a field name")
			}
			inner = name
		}
		i, err := d.value(depth, inner)
		if err != nil {
			return -1, err
		}
		d.nodes[i].name = name
		if last < 0 {
			d.nodes[at].first = i
		} else {
			d.nodes[last].next = i
		}
		last = i
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return -1, notJSON(err)
	}
	return at, nil
}

// scalar reads a string, number or literal (or a member name): a string unescaped, anything
// else as written.
func (d *jsonDoc) scalar() (string, *apperr.Error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return "", notJSON(err)
	}
	end := int(d.dec.InputOffset())
	text := d.text[end-len(v) : end]
	if v.Kind() != '"' {
		return text, nil
	}
	if strings.IndexByte(text, '\\') < 0 {
		return text[1 : len(text)-1], nil
	}
	if d.quote, err = jsontext.AppendUnquote(d.quote[:0], v); err != nil {
		return "", notJSON(err)
	}
	return string(d.quote), nil
}

func (d *jsonDoc) add(n jsonNode) int32 {
	n.first, n.next = -1, -1
	d.nodes = append(d.nodes, n)
	return int32(len(d.nodes) - 1)
}

// notJSON is the refusal of a body jsontext could not read. A repeated member name is named
// (the name is the client's, never a value); any other syntax error is described without the
// input it quotes.
func notJSON(err error) *apperr.Error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return &apperr.Error{Kind: apperr.Incorrect, Subject: fieldName(slices.Collect(se.JSONPointer.Tokens())), Reason: "field repeated", Err: err}
	}
	return &apperr.Error{Kind: apperr.Malformed, Reason: "not valid JSON", Err: err}
}
