package impl

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Conversions from the generated types to what the store keeps.

// decimalText keeps a number as Evotor wrote it (123.12, "0.000"); nil for absent or null.
func decimalText(d *generated.Decimal) *string {
	if d == nil {
		return nil
	}
	return scalarText(d)
}

// numberOrText keeps a value Evotor writes as a number or as text as its text: 80 and "80"
// store equal; nil for absent or null.
func numberOrText(v *generated.NumberOrText) *string {
	if v == nil {
		return nil
	}
	return scalarText(v)
}

// phoneText keeps a phone as its digits, whether Evotor sent a number or a string.
func phoneText(p *generated.Employee_Phone) *string {
	if p == nil {
		return nil
	}
	return scalarText(p)
}

// scalarText renders a number-or-string union as text: a number as written, a string's value
// (unescaped); nil for null.
func scalarText(m json.Marshaler) *string {
	b, err := m.MarshalJSON()
	if err != nil || string(b) == "null" {
		return nil
	}
	t := string(b)
	if strings.HasPrefix(t, `"`) && json.Unmarshal(b, &t) != nil {
		return nil
	}
	return &t
}

// memberText is a string member of a validated tree, copied; nil when absent or null.
func memberText(v *fastjson.Value, name string) *string {
	m := v.Get(name)
	if m == nil || m.Type() != fastjson.TypeString {
		return nil
	}
	t := string(m.GetStringBytes())
	return &t
}

// memberScalar is scalarText for a number-or-string member of a validated tree: a number as
// written, a string's value; nil when absent or null.
func memberScalar(v *fastjson.Value, name string) *string {
	m := v.Get(name)
	switch {
	case m == nil || m.Type() == fastjson.TypeNull:
		return nil
	case m.Type() == fastjson.TypeString:
		t := string(m.GetStringBytes())
		return &t
	}
	t := string(m.MarshalTo(nil))
	return &t
}

// memberBool is a boolean member of a validated tree; nil when absent or null.
func memberBool(v *fastjson.Value, name string) *bool {
	m := v.Get(name)
	if m == nil || m.Type() == fastjson.TypeNull {
		return nil
	}
	b := m.Type() == fastjson.TypeTrue
	return &b
}

// memberList is jsonText of a list-of-strings member of a validated tree; nil when absent or
// null.
func memberList(v *fastjson.Value, name string) *string {
	m := v.Get(name)
	if m == nil || m.Type() != fastjson.TypeArray {
		return nil
	}
	elements, _ := m.Array()
	list := make([]string, len(elements))
	for i, e := range elements {
		list[i] = string(e.GetStringBytes())
	}
	return jsonText(&list)
}

// jsonText renders a list as a JSON array; nil for absent.
func jsonText(list *[]string) *string {
	if list == nil {
		return nil
	}
	b, _ := json.Marshal(*list)
	t := string(b)
	return &t
}

// evotorTime parses an Evotor moment (a time, or Unix milliseconds as a number's text or a
// string); nil when absent (the raw JSON keeps what was sent).
func evotorTime(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := evotor.ParseMoment(*s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// canonical is evotor.CanonicalID for an optional uuid.
func canonical(s *string) *string {
	if s == nil {
		return nil
	}
	c := evotor.CanonicalID(*s)
	return &c
}
