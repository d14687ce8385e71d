package restsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// object is a JSON object as an ordered list of members, so a record keeps every field it was
// given, in its order, whatever the contract names (Evotor adds fields without notice).
type object []member

type member struct {
	name  string
	value jsontext.Value // compact, owned
}

// parseObject reads one JSON object; a member named twice keeps its last value, in its first place.
func parseObject(raw []byte) (object, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if tok.Kind() != '{' {
		return nil, fmt.Errorf("a JSON %s, not an object", tok.Kind())
	}
	var o object
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		name := tok.String() // before the next read voids the token
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		v = v.Clone()
		if err := v.Compact(); err != nil {
			return nil, err
		}
		o.set(name, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}

// item is one element of a webhook's array: its bytes as sent, and its members.
type item struct {
	raw []byte
	obj object
}

// parseItems reads a webhook's body: an array of objects (a single object is taken as one item).
func parseItems(body []byte) ([]item, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	if dec.PeekKind() == '{' {
		o, err := parseObject(body)
		return []item{{bytes.Clone(body), o}}, err
	}
	tok, err := dec.ReadToken()
	if err != nil || tok.Kind() != '[' {
		return nil, errors.New("not a JSON array of objects")
	}
	var out []item
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		o, err := parseObject(v)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", len(out), err)
		}
		out = append(out, item{v.Clone(), o})
	}
	return out, nil
}

func (o object) get(name string) (jsontext.Value, bool) {
	for _, m := range o {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

// text is a member's text: a string's content or a number as written; "" for anything else.
func (o object) text(name string) string {
	v, ok := o.get(name)
	if !ok {
		return ""
	}
	switch v.Kind() {
	case '"':
		s, err := jsontext.AppendUnquote(nil, v)
		if err != nil {
			return ""
		}
		return string(s)
	case '0':
		return string(v)
	}
	return ""
}

// strings is a member that is an array: the text of each string in it.
func (o object) strings(name string) []string {
	v, ok := o.get(name)
	if !ok || v.Kind() != '[' {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	var out []string
	if _, err := dec.ReadToken(); err != nil {
		return nil
	}
	for dec.PeekKind() != ']' {
		tok, err := dec.ReadToken()
		if err != nil {
			return out
		}
		if tok.Kind() == '"' {
			out = append(out, tok.String())
		}
	}
	return out
}

// set replaces a member's value in its place, or appends it.
func (o *object) set(name string, v jsontext.Value) {
	for i := range *o {
		if (*o)[i].name == name {
			(*o)[i].value = v
			return
		}
	}
	*o = append(*o, member{name, v})
}

func (o *object) setString(name, s string) {
	q, _ := jsontext.AppendQuote(nil, s) // s is valid UTF-8: ids and times we form or were given as JSON
	o.set(name, q)
}

func (o *object) del(name string) {
	for i := range *o {
		if (*o)[i].name == name {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}

func (o object) clone() object { return append(object(nil), o...) }

// marshal writes the object compactly, leaving out the members named in omit.
func (o object) marshal(omit ...string) []byte {
	b := []byte{'{'}
	first := true
next:
	for _, m := range o {
		for _, name := range omit {
			if m.name == name {
				continue next
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b, _ = jsontext.AppendQuote(b, m.name)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}
