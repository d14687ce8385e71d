package security

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/evotor"
)

// Request bodies are checked against the spec's schemas compiled once, at start-up, into a
// schemaNode tree, over a jsonDoc (jsondoc.go) — not by kin-openapi per request.
//
// Why: kin-openapi walks the spec's *openapi3.Schema afresh for every value (its unions most
// of all) and needs the body decoded into map[string]any first, hundreds of allocations per
// receipt before the handler decoded it again. jsontext's validation, a pooled fastjson tree
// and the compiled schemas do the same work in a fraction of the time, without allocating
// (BenchmarkValidatorReceipt; figures in tests/loadbench/PERFORMANCE.md).
//
// The trade: a second implementation of the schema keywords, so it implements exactly kin's
// semantics for the keywords the spec uses, and nothing else — compile refuses a schema
// with any other keyword (or a format kin would check that is not implemented here), so a
// future spec change cannot be silently unenforced. Refusals carry the same kind and subject
// kin-openapi's would have under this validator's mapping (kin_agreement_test.go proves it on
// every Evotor fixture and on mutations of them): members are judged in name order and the
// smallest failing name is reported, then the first missing required field; a oneOf that no
// alternative matches reports its first alternative's refusal; an anyOf reports itself.
// Deliberately stricter than kin alone: an integer of format int64 beyond int64 is refused here
// (kin compares it as a float64, so 2^63 passed and the binder refused it).

// schemaNode is one compiled schema.
type schemaNode struct {
	types    jsonTypes // the JSON types admitted; allTypes when the schema names none
	nullable bool
	empty    bool // no keyword at all: anything but null (kin's IsEmpty)
	// hasDefault: as a property, absent or null it stands for its default (kin-openapi writes
	// the default in before judging the object; the handlers read an absent field as it).
	hasDefault bool
	oneOf      []*schemaNode
	anyOf      []*schemaNode
	allOf      []*schemaNode // a property's allOf: [{$ref}] lets it carry a description of its own
	enum       []any

	properties map[string]*schemaNode
	required   []string
	closed     bool        // additionalProperties: false
	additional *schemaNode // additionalProperties: {schema}

	items *schemaNode

	minLength, maxLength int // maxLength < 0: none
	pattern              *regexp.Regexp
	format               func([]byte) bool // string formats

	intFormat          *[2]int64 // integer formats: the admitted range
	minimum, maximum   *float64
	requiresInteger    bool
	admitsAnyNumberish bool // integer or number among the types
}

type jsonTypes uint8

const (
	typeObject jsonTypes = 1 << iota
	typeArray
	typeString
	typeNumber
	typeInteger
	typeBoolean
	allTypes = typeObject | typeArray | typeString | typeNumber | typeInteger | typeBoolean
)

var typeNames = map[string]jsonTypes{
	openapi3.TypeObject: typeObject, openapi3.TypeArray: typeArray, openapi3.TypeString: typeString,
	openapi3.TypeNumber: typeNumber, openapi3.TypeInteger: typeInteger, openapi3.TypeBoolean: typeBoolean,
}

// supportedKeywords are the schema keywords compile implements (or that constrain nothing);
// any other keyword in a request schema stops start-up.
var supportedKeywords = map[string]bool{
	"type": true, "nullable": true, "format": true, "enum": true,
	"properties": true, "required": true, "additionalProperties": true, "items": true,
	"minLength": true, "maxLength": true, "pattern": true, "minimum": true, "maximum": true,
	"oneOf": true, "anyOf": true, "allOf": true,
	"title": true, "description": true, "example": true, "examples": true, "default": true,
	"deprecated": true, "externalDocs": true,
}

// stringFormats are the string formats checked; kin-openapi's own (date, date-time, byte)
// are not used by any request schema, so compile refuses them rather than skip them.
var stringFormats = map[string]func([]byte) bool{
	FormatEvotorTime: func(s []byte) bool { _, err := evotor.ParseTime(string(s)); return err == nil },
}

var integerFormats = map[string]*[2]int64{
	"int32": {math.MinInt32, math.MaxInt32},
	"int64": {math.MinInt64, math.MaxInt64},
}

// schemaCompiler compiles each *openapi3.Schema once; $refs share their compiled node.
type schemaCompiler map[*openapi3.Schema]*schemaNode

func (c schemaCompiler) compile(ref *openapi3.SchemaRef) (*schemaNode, error) {
	s := ref.Value
	if s == nil {
		return nil, fmt.Errorf("unresolved schema %s", ref.Ref)
	}
	if n := c[s]; n != nil {
		return n, nil
	}
	n, err := newSchemaNode(s)
	if err == nil {
		c[s] = n // before the children: a schema may contain itself
		err = c.compileChildren(n, s)
	}
	if err != nil && ref.Ref != "" {
		err = fmt.Errorf("%s: %w", ref.Ref, err)
	}
	return n, err
}

// newSchemaNode compiles a schema's own keywords.
func newSchemaNode(s *openapi3.Schema) (*schemaNode, error) {
	if err := checkKeywords(s); err != nil {
		return nil, err
	}
	n := &schemaNode{types: allTypes, nullable: s.Nullable, empty: s.IsEmpty(), hasDefault: s.Default != nil,
		enum: s.Enum, required: s.Required, closed: s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has,
		minLength: int(s.MinLength), maxLength: -1, minimum: s.Min, maximum: s.Max}
	if s.Type != nil {
		n.types = 0
		for _, t := range s.Type.Slice() {
			switch {
			case t == openapi3.TypeNull:
				n.nullable = true
			case typeNames[t] == 0:
				return nil, fmt.Errorf("unknown type %q", t)
			}
			n.types |= typeNames[t]
		}
	}
	n.requiresInteger = n.types&typeInteger != 0 && n.types&typeNumber == 0
	n.admitsAnyNumberish = n.types&(typeInteger|typeNumber) != 0
	if s.MaxLength != nil {
		n.maxLength = int(*s.MaxLength)
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		n.pattern = re
	}
	return n, n.compileFormat(s.Format)
}

// compileChildren compiles the schemas a schema applies to its value and to what it holds.
func (c schemaCompiler) compileChildren(n *schemaNode, s *openapi3.Schema) error {
	var err error
	if n.oneOf, err = c.compileAll(s.OneOf); err != nil {
		return fmt.Errorf("oneOf: %w", err)
	}
	if n.anyOf, err = c.compileAll(s.AnyOf); err != nil {
		return fmt.Errorf("anyOf: %w", err)
	}
	if n.allOf, err = c.compileAll(s.AllOf); err != nil {
		return fmt.Errorf("allOf: %w", err)
	}
	if len(s.Properties) > 0 {
		n.properties = make(map[string]*schemaNode, len(s.Properties))
		for name, p := range s.Properties {
			if n.properties[name], err = c.compile(p); err != nil {
				return fmt.Errorf("property %s: %w", name, err)
			}
		}
	}
	if s.Items != nil {
		if n.items, err = c.compile(s.Items); err != nil {
			return fmt.Errorf("items: %w", err)
		}
	}
	if s.AdditionalProperties.Schema != nil {
		if n.additional, err = c.compile(s.AdditionalProperties.Schema); err != nil {
			return fmt.Errorf("additionalProperties: %w", err)
		}
	}
	return nil
}

func (c schemaCompiler) compileAll(refs openapi3.SchemaRefs) ([]*schemaNode, error) {
	var nodes []*schemaNode
	for _, ref := range refs {
		n, err := c.compile(ref)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// checkKeywords refuses a schema using a keyword compile does not implement. The keys of the
// map kin-openapi writes a schema from are exactly the keywords it sets (the map, not its JSON:
// that would encode the whole subtree again at every node).
func checkKeywords(s *openapi3.Schema) error {
	written, err := s.MarshalYAML()
	if err != nil {
		return err
	}
	keywords, ok := written.(map[string]any)
	if !ok {
		return fmt.Errorf("boolean schema %v is not supported by the compiled body validator (security/bodyschema.go)", written)
	}
	for k := range keywords {
		if !supportedKeywords[k] && !strings.HasPrefix(k, "x-") {
			return fmt.Errorf("schema keyword %q is not supported by the compiled body validator (security/bodyschema.go)", k)
		}
	}
	for _, v := range s.Enum {
		switch v.(type) {
		case string, float64, bool, nil:
		default:
			return fmt.Errorf("enum value %v: only strings, numbers, booleans and null are supported", v)
		}
	}
	return nil
}

// compileFormat looks a format up the way kin-openapi does, by the kind of value: strings in
// the string formats, integers in the integer formats, other numbers in the number formats. A
// format kin-openapi would check that is not implemented here stops start-up; like kin, a
// format nobody defines (double, email, …) constrains nothing.
func (n *schemaNode) compileFormat(format string) error {
	if format == "" {
		return nil
	}
	if n.types&typeString != 0 {
		n.format = stringFormats[format]
		if n.format == nil && openapi3.SchemaStringFormats[format] != nil {
			return fmt.Errorf("string format %q is not implemented by the compiled body validator", format)
		}
	}
	if n.requiresInteger {
		n.intFormat = integerFormats[format]
		if n.intFormat == nil && openapi3.SchemaIntegerFormats[format] != nil {
			return fmt.Errorf("integer format %q is not implemented by the compiled body validator", format)
		}
	} else if n.types&typeNumber != 0 && openapi3.SchemaNumberFormats[format] != nil {
		return fmt.Errorf("number format %q is not implemented by the compiled body validator", format)
	}
	return nil
}

// refusal is why a value does not fit its schema. Its subject is the name of the field refused
// (kin's JSON pointer's last name), never the value.
// The reason is the kind's name (missing, incorrect), as kin-openapi's refusals were answered
// and as the spec's examples show them.
type refusal struct {
	kind    apperr.Kind
	subject []byte // in the pooled parser: copied by err
}

func (r refusal) err() *apperr.Error { return apperr.New(r.kind, string(r.subject)) }

// refuse records why the value being checked is refused (on the doc: the checks return only
// whether a value passed) and returns false.
func (d *jsonDoc) refuse(kind apperr.Kind, subject []byte) bool {
	d.refusal = refusal{kind: kind, subject: subject}
	return false
}

func (d *jsonDoc) incorrect(subject []byte) bool { return d.refuse(apperr.Incorrect, subject) }

// memberSubject is the subject of an object member: its name, unless the name is all digits
// (kin's pointer reads it as an array index, and fieldName skips those).
func memberSubject(parent, name []byte) []byte {
	for _, c := range name {
		if c < '0' || c > '9' {
			return name
		}
	}
	return parent
}

// check judges value v (subject: the field it is, or is in) in kin-openapi's order; false
// leaves the refusal on d.
func (n *schemaNode) check(d *jsonDoc, v *fastjson.Value, subject []byte) bool {
	t := v.Type()
	if t == fastjson.TypeNull && n.nullable {
		return true
	}
	if n.empty {
		return t != fastjson.TypeNull || d.incorrect(subject)
	}
	if len(n.oneOf)+len(n.anyOf)+len(n.allOf) > 0 {
		if !n.checkAlternatives(d, v, subject) {
			return false
		}
		if t == fastjson.TypeNull {
			return true
		}
	}
	if len(n.enum) > 0 && !n.inEnum(v) {
		return d.incorrect(subject)
	}
	switch t {
	case fastjson.TypeNull:
		return d.incorrect(subject)
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return n.types&typeBoolean != 0 || d.incorrect(subject)
	case fastjson.TypeNumber:
		return n.checkNumber(d, d.numberOf(v), subject)
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		return n.checkString(d, s, subject)
	case fastjson.TypeArray:
		return n.checkArray(d, v, subject)
	case fastjson.TypeObject:
		return n.checkObject(d, v, subject)
	}
	return true
}

// checkAlternatives: a oneOf must match exactly one alternative (none: the first failing
// alternative's refusal); an anyOf at least one; an allOf every one (kin-openapi refuses the
// allOf itself, so the refusal is an incorrect value, whatever failed inside).
func (n *schemaNode) checkAlternatives(d *jsonDoc, v *fastjson.Value, subject []byte) bool {
	if len(n.oneOf) > 0 {
		var first refusal
		matched := 0
		for _, alt := range n.oneOf {
			if alt.check(d, v, subject) {
				matched++
			} else if first.kind == 0 {
				first = d.refusal
			}
		}
		switch {
		case matched == 0:
			d.refusal = first
			return false
		case matched > 1:
			return d.incorrect(subject)
		}
	}
	if len(n.anyOf) > 0 && !slices.ContainsFunc(n.anyOf, func(alt *schemaNode) bool { return alt.check(d, v, subject) }) {
		return d.incorrect(subject)
	}
	for _, part := range n.allOf {
		if !part.check(d, v, subject) {
			return d.incorrect(subject)
		}
	}
	return true
}

// checkNumber judges a number as kin-openapi does (by its float64 value: one too large for a
// float64 is refused), parsing it only when its value matters: a number without an exponent
// and under 300 characters cannot overflow, and one written without fraction or exponent is an
// integer.
func (n *schemaNode) checkNumber(d *jsonDoc, num *number, subject []byte) bool {
	text, integer, exponent := num.text, num.integer, num.exponent
	var f float64
	if exponent || len(text) > 300 || (!integer && (n.requiresInteger || n.intFormat != nil)) || n.minimum != nil || n.maximum != nil {
		var err error
		if f, err = strconv.ParseFloat(string(text), 64); err != nil {
			return d.incorrect(subject)
		}
	}
	switch {
	case n.requiresInteger && !integer && f != math.Trunc(f):
		return d.incorrect(subject)
	case !n.admitsAnyNumberish:
		return d.incorrect(subject)
	case n.intFormat != nil && !fitsInteger(text, integer, f, n.intFormat):
		return d.incorrect(subject)
	case n.minimum != nil && f < *n.minimum:
		return d.incorrect(subject)
	case n.maximum != nil && f > *n.maximum:
		return d.incorrect(subject)
	}
	return true
}

// numberShape: whether a JSON number is written as an integer (no fraction, no exponent), and
// whether it has an exponent.
func numberShape(text []byte) (integer, exponent bool) {
	integer = true
	for _, c := range text {
		switch c {
		case '.':
			integer = false
		case 'e', 'E':
			return false, true
		}
	}
	return integer, false
}

// fitsInteger: within the format's range. Written as an integer it is compared exactly (the Go
// type must hold it); written otherwise (1.0, 1e2) as kin-openapi compares it, as a float64.
func fitsInteger(text []byte, integer bool, f float64, bounds *[2]int64) bool {
	if integer {
		i, err := strconv.ParseInt(string(text), 10, 64)
		return err == nil && i >= bounds[0] && i <= bounds[1]
	}
	return f >= float64(bounds[0]) && f <= float64(bounds[1])
}

func (n *schemaNode) checkString(d *jsonDoc, s, subject []byte) bool {
	if n.types&typeString == 0 {
		return d.incorrect(subject)
	}
	if n.minLength > 0 || n.maxLength >= 0 {
		length := utf8.RuneCount(s)
		if length < n.minLength {
			return d.incorrect(subject)
		}
		if n.maxLength >= 0 && length > n.maxLength {
			return d.incorrect(subject)
		}
	}
	if n.pattern != nil && !n.pattern.Match(s) {
		return d.incorrect(subject)
	}
	if n.format != nil && !n.format(s) {
		return d.incorrect(subject)
	}
	return true
}

func (n *schemaNode) checkArray(d *jsonDoc, v *fastjson.Value, subject []byte) bool {
	if n.types&typeArray == 0 {
		return d.incorrect(subject)
	}
	if n.items == nil {
		return true
	}
	for _, item := range v.GetArray() {
		if !n.items.check(d, item, subject) {
			return false
		}
	}
	return true
}

// checkObject reports, like kin-openapi, the refusal of the member with the smallest name, then
// the first required field missing.
func (n *schemaNode) checkObject(d *jsonDoc, v *fastjson.Value, subject []byte) bool {
	if n.types&typeObject == 0 {
		return d.incorrect(subject)
	}
	var first refusal
	var firstName []byte
	o := v.GetObject()
	o.Visit(func(name []byte, m *fastjson.Value) {
		if first.kind != 0 && bytes.Compare(name, firstName) >= 0 {
			return // cannot come first
		}
		if !n.checkMember(d, name, m, subject) {
			first, firstName = d.refusal, name
		}
	})
	if first.kind != 0 {
		d.refusal = first
		return false
	}
	for _, name := range n.required {
		if o.Get(name) == nil && !n.properties[name].defaulted() {
			return d.refuse(apperr.Missing, memberSubject(subject, []byte(name)))
		}
	}
	return true
}

func (n *schemaNode) checkMember(d *jsonDoc, name []byte, m *fastjson.Value, subject []byte) bool {
	if p := n.properties[string(name)]; p != nil {
		if p.hasDefault && m.Type() == fastjson.TypeNull {
			return true // stands for its default
		}
		return p.check(d, m, memberSubject(subject, name))
	}
	if n.closed {
		return d.incorrect(subject)
	}
	if n.additional != nil {
		return n.additional.check(d, m, memberSubject(subject, name))
	}
	return true
}

// itemwise: the schema of an array that says nothing but what its items are, so that an array
// is checked in full by checking its items one by one.
func (n *schemaNode) itemwise() bool {
	return n.types == typeArray && n.items != nil && !n.empty && len(n.oneOf)+len(n.anyOf)+len(n.enum) == 0
}

func (n *schemaNode) defaulted() bool { return n != nil && n.hasDefault }

// inEnum compares a scalar with the enum's values the way kin-openapi does (numbers by value).
func (n *schemaNode) inEnum(v *fastjson.Value) bool {
	for _, e := range n.enum {
		switch e := e.(type) {
		case string:
			if s, err := v.StringBytes(); err == nil && string(s) == e {
				return true
			}
		case float64:
			if f, err := v.Float64(); v.Type() == fastjson.TypeNumber && err == nil && f == e {
				return true
			}
		case bool:
			if (v.Type() == fastjson.TypeTrue && e) || (v.Type() == fastjson.TypeFalse && !e) {
				return true
			}
		case nil:
			if v.Type() == fastjson.TypeNull {
				return true
			}
		}
	}
	return false
}

// CheckValue judges one JSON value against a schema of the spec with the compiled validator,
// as a body of that schema would be judged: nil, or the refusal (an *apperr.Error). Tests use
// it to compare our schemas with Evotor's reference value by value.
func CheckValue(schema *openapi3.SchemaRef, raw []byte) error {
	n, err := schemaCompiler{}.compile(schema)
	if err != nil {
		return err
	}
	doc, perr := parseBody(raw)
	if perr != nil {
		return perr
	}
	defer doc.release()
	if !n.check(doc, doc.root, bodySubject) {
		return doc.refusal.err()
	}
	return nil
}
