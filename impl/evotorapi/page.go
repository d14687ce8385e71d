package evotorapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Item is one object Evotor answered: its JSON exactly as received (unknown fields and all:
// what a caller stores), its id, and a typed view of the fields the contract names.
//
// The typed view is read leniently with encoding/json: unknown fields are ignored (they stay in
// Raw), null leaves a field nil, numbers written as strings and times as numbers fit the
// contract's unions. A field of an unexpected JSON type (an object where a string is due) is
// left empty and named in Mismatch; the rest of the view is still filled. Names are matched as
// encoding/json does (case-insensitively); Raw is the authority.
type Item[T any] struct {
	ID       string          // the top-level "id" member (a string's text, or a number as written); "" when absent
	Raw      json.RawMessage // the object as Evotor sent it, byte for byte
	Value    T               // the typed view
	Mismatch error           // a field that did not fit the typed view (its name and JSON type, never its value); nil when all did
}

// decodeItem builds the Item of one raw object.
func decodeItem[T any](raw []byte) Item[T] {
	it := Item[T]{Raw: json.RawMessage(raw), ID: memberText(raw, "id")}
	if err := json.Unmarshal(raw, &it.Value); err != nil {
		it.Mismatch = mismatch(err)
	}
	return it
}

// mismatch is the part of a decoding error a log may carry: which field, which JSON type.
func mismatch(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: JSON %s where the contract has %s", te.Field, te.Value, te.Type)
	}
	return errors.New("not a JSON object the contract describes")
}

// page is one list answer: its items, raw, and the next cursor ("" on the last page).
type page struct {
	items      [][]byte
	nextCursor string
}

// decoderOptions read Evotor's answers leniently: a duplicated member name or invalid UTF-8
// does not lose the whole page (Raw keeps the bytes; the caller's own rules judge the item).
var decoderOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// readPage reads {"items":[…],"paging":{"next_cursor":…}} with exact member names, each item
// kept as its own bytes. A bare array is taken as a single, last page; "items": null as none.
func readPage(body []byte) (page, error) {
	var p page
	dec := jsontext.NewDecoder(bytes.NewReader(body), decoderOptions...)
	tok, err := dec.ReadToken()
	if err != nil {
		return p, fmt.Errorf("answer is not JSON: %w", err)
	}
	switch tok.Kind() {
	case '[':
		p.items, err = readElements(dec)
		return p, err
	case '{':
	default:
		return p, fmt.Errorf("answer is a JSON %s, not a page", kindName(tok.Kind()))
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return p, fmt.Errorf("answer is not JSON: %w", err)
		}
		switch name.String() {
		case "items":
			switch dec.PeekKind() {
			case 'n':
				_, err = dec.ReadToken()
			case '[':
				if _, err = dec.ReadToken(); err == nil {
					p.items, err = readElements(dec)
				}
			default:
				return p, fmt.Errorf("answer's items is a JSON %s, not an array", kindName(dec.PeekKind()))
			}
		case "paging":
			var v jsontext.Value
			if v, err = dec.ReadValue(); err == nil {
				p.nextCursor = memberText(v, "next_cursor")
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return p, fmt.Errorf("answer is not JSON: %w", err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return p, fmt.Errorf("answer is not JSON: %w", err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return p, errors.New("answer has data after its JSON value")
	}
	return p, nil
}

// readElements reads an array's elements after its '[' and its ']', each copied out.
func readElements(dec *jsontext.Decoder) ([][]byte, error) {
	var out [][]byte
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("answer is not JSON: %w", err)
		}
		if v.Kind() != '{' {
			return nil, fmt.Errorf("answer has an item that is a JSON %s, not an object", kindName(v.Kind()))
		}
		out = append(out, bytes.Clone(v))
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, fmt.Errorf("answer is not JSON: %w", err)
	}
	return out, nil
}

// memberText is the text of the top-level member name of a JSON object: a string's value, a
// number as written; "" for anything else, for null, or when absent. The name is matched
// exactly; with a duplicated name the last wins.
func memberText(obj []byte, name string) string {
	dec := jsontext.NewDecoder(bytes.NewReader(obj), decoderOptions...)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return ""
	}
	found := ""
	for {
		if k := dec.PeekKind(); k == '}' || k == 0 {
			return found
		}
		key, err := dec.ReadToken()
		if err != nil {
			return found
		}
		if key.String() == name {
			if k := dec.PeekKind(); k == '"' || k == '0' {
				v, err := dec.ReadToken()
				if err != nil {
					return found
				}
				found = v.String()
				continue
			}
			found = "" // null, a boolean, an object or an array: no id
		}
		if dec.SkipValue() != nil {
			return found
		}
	}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return strings.TrimSpace("value " + k.String())
}
