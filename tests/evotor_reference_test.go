package tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/security"
)

// Our schemas against Evotor's reference, property by property (the vendored Swagger 2.0 in
// testdata/evotor/official). For every request property of every partner operation the
// reference declares, values are generated from what the reference admits — its type, format,
// pattern and enum — and taken from its examples, and ours must admit each one (stricter), and
// a set of probes our schema admits must be admitted by the reference's declaration (looser).
// Every deliberate difference is listed once, in our spec:
//   - on the property, or on a schema it refers to: `x-evotor-difference: <why>`;
//   - for a rule over the whole contract: the root's `x-evotor-differences` map, whose keys this
//     test knows (null, open-enums, no-nul, int64);
//   - for an operation's credential or an error code: the operation's `x-evotor-differences`
//     map (keys `security`, `code-N`).
// An unlisted difference fails, and so does a listed one that no longer differs.

// globalDifferences are the root-level rules this test applies, by key.
var globalDifferences = []string{"null", "open-enums", "no-nul", "int64"}

type referenceComparison struct {
	t        *testing.T
	ref      *swagger
	ours     *openapi3.T
	global   map[string]bool
	listed   map[*openapi3.Schema]string // property → its listed difference, once seen
	needed   map[*openapi3.Schema]bool   // listed differences that showed
	missing  []string                    // unlisted differences, for one report
	examples map[string][]string         // the values of the operations' example bodies, by property
	checked  int
}

func TestOurSchemasAdmitWhatEvotorDeclares(t *testing.T) {
	t.Parallel()
	c := newReferenceComparison(t)
	for _, op := range c.referenceOperations() {
		ourOp := c.ours.Paths.Find(op.path).GetOperation(op.method)
		if ourOp == nil || op.body == nil {
			continue
		}
		c.walk(op.body, op.file, ourOp.RequestBody.Value.Content.Get("application/json").Schema, op.method+" "+op.path, 0)
	}
	for s, why := range c.listed {
		if !c.needed[s] {
			t.Errorf("x-evotor-difference %q is listed on a schema that no longer differs from Evotor's reference: remove it", why)
		}
	}
	sort.Strings(c.missing)
	for _, m := range slices.Compact(c.missing) {
		t.Error(m)
	}
	t.Logf("%d properties compared", c.checked)
	if c.checked < 100 {
		t.Fatalf("only %d properties compared: the reference was not read", c.checked)
	}
}

func newReferenceComparison(t *testing.T) *referenceComparison {
	c := &referenceComparison{t: t, ref: &swagger{t: t, dir: vendoredDir, files: map[string]any{}}, ours: ourSpec(t),
		global: map[string]bool{}, examples: map[string][]string{}, listed: map[*openapi3.Schema]string{}, needed: map[*openapi3.Schema]bool{}}
	rules, _ := c.ours.Extensions["x-evotor-differences"].(map[string]any)
	for key, why := range rules {
		if !slices.Contains(globalDifferences, key) {
			t.Errorf("x-evotor-differences lists %q, which this test does not know (it knows %v)", key, globalDifferences)
		}
		if s, _ := why.(string); s == "" {
			t.Errorf("x-evotor-differences %q gives no reason", key)
		}
		c.global[key] = true
	}
	return c
}

type referenceBody struct {
	method, path string
	body         any    // the body's schema
	file         string // where it lives
}

func (c *referenceComparison) referenceOperations() []referenceBody {
	var ops []referenceBody
	for path, item := range c.ref.file("paths.yaml").(map[string]any) {
		if !strings.HasPrefix(path, "/partner.ru/") {
			continue
		}
		for method, op := range item.(map[string]any) {
			op, ok := op.(map[string]any)
			if !ok {
				continue
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				param, file := c.ref.resolve(p, "paths.yaml")
				if pm, ok := param.(map[string]any); ok && pm["in"] == "body" && pm["schema"] != nil {
					b := referenceBody{strings.ToUpper(method), strings.TrimPrefix(path, "/partner.ru"), pm["schema"], file}
					if ex, ok := pm["x-examples"].(map[string]any); ok {
						c.collectExamples(ex["application/json"], b.method+" "+b.path)
					}
					ops = append(ops, b)
				}
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// collectExamples keeps each value of an operation's example body by the property it stands at.
func (c *referenceComparison) collectExamples(v any, at string) {
	switch x := v.(type) {
	case map[string]any:
		for name, m := range x {
			c.collectExamples(m, at+" "+name)
		}
	case []any:
		for _, item := range x {
			c.collectExamples(item, at+" []")
		}
	}
	c.examples[at] = append(c.examples[at], jsonOf(v))
}

// merged is a reference schema with its $refs followed and its allOf parts folded in
// (properties and required joined; the last type, format, pattern and enum win), plus the
// subtypes of a discriminated definition (definitions whose allOf names it) as alternatives.
func (c *referenceComparison) merged(v any, file string, depth int) (map[string]any, string) {
	out := map[string]any{"properties": map[string]any{}}
	var name string
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			_, pointer, _ := strings.Cut(ref, "#/")
			name = pointer
		}
	}
	resolved, file := c.ref.resolve(v, file)
	m, _ := resolved.(map[string]any)
	parts := []map[string]any{m}
	if all, ok := m["allOf"].([]any); ok && depth < 8 {
		for _, part := range all {
			pm, _ := c.merged(part, file, depth+1)
			parts = append(parts, pm)
		}
	}
	for _, part := range parts {
		for k, x := range part {
			switch k {
			case "properties":
				props, _ := x.(map[string]any)
				for n, p := range props {
					out["properties"].(map[string]any)[n] = p
				}
			case "allOf", "$ref":
			default:
				out[k] = x
			}
		}
	}
	if _, ok := m["discriminator"]; ok && name != "" && depth < 8 {
		out["subtypes"] = c.subtypes(name, file)
	}
	return out, file
}

// subtypes are the definitions whose allOf refers to definition name.
func (c *referenceComparison) subtypes(name, file string) []any {
	var subs []any
	defs := c.ref.file("definitions.yaml").(map[string]any)
	for _, key := range sortedKeys(defs) {
		d, _ := defs[key].(map[string]any)
		all, _ := d["allOf"].([]any)
		for _, part := range all {
			if pm, ok := part.(map[string]any); ok && (pm["$ref"] == "#/"+name || pm["$ref"] == "./definitions.yaml#/"+name) {
				subs = append(subs, map[string]any{"$ref": "./definitions.yaml#/" + key})
			}
		}
	}
	return subs
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// walk compares the properties of a reference object (and its subtypes) with ours, and goes
// into objects and array items.
func (c *referenceComparison) walk(refSchema any, file string, ours *openapi3.SchemaRef, at string, depth int) {
	if depth > 8 || ours == nil {
		return
	}
	m, file := c.merged(refSchema, file, 0)
	alternatives := []map[string]any{m}
	for _, sub := range asList(m["subtypes"]) {
		sm, _ := c.merged(sub, file, 0)
		alternatives = append(alternatives, sm)
	}
	for _, alt := range alternatives {
		props := alt["properties"].(map[string]any)
		for _, name := range sortedKeys(props) {
			c.property(props[name], file, ours, name, at+" "+name, depth)
		}
	}
	if items, ok := m["items"]; ok {
		if our := ourItems(ours); our != nil {
			c.walk(items, file, our, at+" []", depth+1)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

// property compares one property of the reference with ours.
func (c *referenceComparison) property(refProp any, file string, ourParent *openapi3.SchemaRef, name, at string, depth int) {
	pm, pfile := c.merged(refProp, file, 0)
	our := ourProperty(ourParent, name)
	if our == nil {
		if closedObject(ourParent) {
			c.differs(at, nil, "our object refuses the member Evotor declares")
		}
		return
	}
	c.checked++
	typ, _ := pm["type"].(string)
	switch {
	case typ == "object" || len(pm["properties"].(map[string]any)) > 0:
		c.walk(refProp, file, our, at, depth+1)
		return
	case typ == "array":
		if items, ok := pm["items"]; ok {
			im, _ := c.merged(items, pfile, 0)
			if it, _ := im["type"].(string); it == "object" || len(im["properties"].(map[string]any)) > 0 {
				c.walk(refProp, file, our, at, depth+1)
				return
			}
		}
	}
	c.stricter(pm, pfile, our, at)
	c.looser(pm, our, at)
}

// stricter: every value the reference admits, ours admits (rapid draws them).
func (c *referenceComparison) stricter(pm map[string]any, file string, our *openapi3.SchemaRef, at string) {
	gen := c.values(pm, file, 0)
	if ex := c.examples[at]; len(ex) > 0 {
		gen = rapid.OneOf(gen, rapid.SampledFrom(ex))
	}
	var refused string
	c.t.Run(at, func(t *testing.T) {
		rapid.Check(t, func(rt *rapid.T) {
			v := gen.Draw(rt, "value")
			if err := security.CheckValue(our, []byte(v)); err != nil && refused == "" {
				refused = v
			}
		})
	})
	if refused != "" {
		c.differs(at, our, "stricter: Evotor's declaration admits "+shorten(refused)+", ours refuses it")
	}
}

// looser: every probe ours admits, the reference's declaration admits, but for the root's rules.
func (c *referenceComparison) looser(pm map[string]any, our *openapi3.SchemaRef, at string) {
	for _, probe := range []string{`null`, `""`, `"x"`, `"2529"`, `"123.5"`, `123`, `1.5`, `true`, `{}`, `[]`, `["x"]`,
		`"2017-01-10T09:33:19.757+0000"`, `"20170222-D58C-40E0-8051-B53ADFF38860"`, `"VAT_18"`, `"SELL"`} {
		if security.CheckValue(our, []byte(probe)) != nil || referenceAdmits(pm, probe) {
			continue
		}
		if probe == "null" && c.global["null"] {
			continue
		}
		if _, ok := pm["enum"]; ok && c.global["open-enums"] && referenceAdmits(withoutKey(pm, "enum"), probe) {
			continue
		}
		c.differs(at, our, "looser: ours admits "+probe+", Evotor's declaration does not")
		return
	}
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// differs records a difference at a property: listed (on it or on a schema it refers to), or a failure.
func (c *referenceComparison) differs(at string, our *openapi3.SchemaRef, what string) {
	if s, why := listedDifference(our); s != nil {
		c.listed[s], c.needed[s] = why, true
		return
	}
	c.missing = append(c.missing, fmt.Sprintf("%s: %s; list it (x-evotor-difference: why) on the property or the schema it refers to, or remove the difference", at, what))
}

// listedDifference is the x-evotor-difference of a schema, or of the schema it refers to
// (allOf: [{$ref}]) or, for an array, of its items'.
func listedDifference(s *openapi3.SchemaRef) (*openapi3.Schema, string) {
	for depth := 0; s != nil && s.Value != nil && depth < 4; depth++ {
		if why, ok := s.Value.Extensions["x-evotor-difference"].(string); ok && why != "" {
			return s.Value, why
		}
		switch {
		case len(s.Value.AllOf) == 1:
			s = s.Value.AllOf[0]
		case s.Value.Items != nil:
			s = s.Value.Items
		default:
			return nil, ""
		}
	}
	return nil, ""
}

// ourProperty finds a property in our schema, through oneOf/anyOf/allOf alternatives.
func ourProperty(s *openapi3.SchemaRef, name string) *openapi3.SchemaRef {
	if s == nil || s.Value == nil {
		return nil
	}
	if p := s.Value.Properties[name]; p != nil {
		return p
	}
	for _, alt := range slices.Concat(s.Value.OneOf, s.Value.AnyOf, s.Value.AllOf) {
		if p := ourProperty(alt, name); p != nil {
			return p
		}
	}
	return nil
}

// ourItems is the items schema of our array schema, through alternatives.
func ourItems(s *openapi3.SchemaRef) *openapi3.SchemaRef {
	if s == nil || s.Value == nil {
		return nil
	}
	if s.Value.Items != nil {
		return s.Value.Items
	}
	for _, alt := range slices.Concat(s.Value.OneOf, s.Value.AnyOf, s.Value.AllOf) {
		if it := ourItems(alt); it != nil {
			return it
		}
	}
	return nil
}

func closedObject(s *openapi3.SchemaRef) bool {
	return s != nil && s.Value != nil && s.Value.AdditionalProperties.Has != nil && !*s.Value.AdditionalProperties.Has
}

// values draws a JSON value the reference's declaration admits, or one of its examples.
func (c *referenceComparison) values(pm map[string]any, file string, depth int) *rapid.Generator[string] {
	var gens []*rapid.Generator[string]
	if ex, ok := pm["example"]; ok {
		gens = append(gens, rapid.Just(jsonOf(ex)))
	}
	if def, ok := pm["default"]; ok {
		gens = append(gens, rapid.Just(jsonOf(def)))
	}
	if enum, ok := pm["enum"].([]any); ok && len(enum) > 0 {
		gens = append(gens, rapid.Map(rapid.SampledFrom(enum), jsonOf))
	} else {
		gens = append(gens, c.typed(pm, file, depth))
	}
	return rapid.OneOf(gens...)
}

func (c *referenceComparison) typed(pm map[string]any, file string, depth int) *rapid.Generator[string] {
	typ, _ := pm["type"].(string)
	format, _ := pm["format"].(string)
	pattern, _ := pm["pattern"].(string)
	pattern = strings.TrimSpace(pattern) // a YAML block scalar ends in a line break
	switch typ {
	case "string":
		switch {
		case pattern != "":
			return rapid.Map(rapid.StringMatching(pattern).Filter(c.stringAdmitted), quote)
		case format == "date-time":
			return rapid.Map(rapid.Int64Range(0, 4102444800000), func(ms int64) string {
				return quote(time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
			})
		case format == "uuid":
			return rapid.Map(rapid.StringMatching(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`), quote)
		}
		// any text, with the edges a schema of ours may cut at drawn often: empty, and long
		anyText := rapid.OneOf(rapid.String(), rapid.Just(""), rapid.StringN(257, 1000, -1))
		return rapid.Map(anyText.Filter(c.stringAdmitted), quote)
	case "integer":
		if c.global["int64"] {
			return rapid.Map(rapid.Int64(), func(n int64) string { return fmt.Sprint(n) })
		}
		return rapid.StringMatching(`^-?[1-9][0-9]{0,30}$`)
	case "number":
		return rapid.OneOf(
			rapid.Map(rapid.Int64Range(-1e12, 1e12), func(n int64) string { return fmt.Sprint(n) }),
			rapid.SampledFrom([]string{"0", "-1", "0.5", "1e3", "-2.5E-2", "9007199254740993", "1e300"}),
			rapid.Map(rapid.Float64().Filter(func(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }), func(f float64) string { return jsonOf(f) }),
		)
	case "boolean":
		return rapid.Map(rapid.Bool(), func(b bool) string { return fmt.Sprint(b) })
	case "array":
		item := rapid.Just(`"x"`)
		if items, ok := pm["items"]; ok && depth < 3 {
			im, f := c.merged(items, file, 0)
			item = c.values(im, f, depth+1)
		}
		return rapid.Map(rapid.SliceOfN(item, 0, 3), func(l []string) string { return "[" + strings.Join(l, ",") + "]" })
	case "object":
		return rapid.Just(`{}`)
	}
	if typ != "" { // `type: enum` (apiVersion): not a JSON type; its default and example say what it means
		return rapid.Just(jsonOf(pm["default"]))
	}
	return rapid.SampledFrom([]string{`"x"`, `1`, `true`}) // no type: anything
}

// stringAdmitted: strings the root's rules keep out of every field.
func (c *referenceComparison) stringAdmitted(s string) bool {
	return !c.global["no-nul"] || !strings.ContainsRune(s, 0)
}

// referenceAdmits judges a JSON value by the reference's declaration: type, enum, pattern,
// format (date-time as RFC 3339, uuid) — or by its example: a value of the example's kind is
// one Evotor uses (sessionNumber is declared a string, its example is 80). Swagger 2.0 has no null.
func referenceAdmits(pm map[string]any, value string) bool {
	var v any
	if json.Unmarshal([]byte(value), &v) != nil || v == nil {
		return false
	}
	if ex, ok := pm["example"]; ok && jsonKind(jsonOf(ex)) == jsonKind(value) {
		return true
	}
	if enum, ok := pm["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return jsonOf(e) == value }) {
		return false
	}
	typ, _ := pm["type"].(string)
	switch x := v.(type) {
	case string:
		if typ != "" && typ != "string" {
			return false
		}
		if p, _ := pm["pattern"].(string); p != "" && !regexp.MustCompile(strings.TrimSpace(p)).MatchString(x) {
			return false
		}
		switch pm["format"] {
		case "date-time":
			_, err := time.Parse(time.RFC3339, x)
			return err == nil
		case "uuid":
			return evotor.IsUUID(x)
		}
	case float64:
		return typ == "" || typ == "number" || typ == "integer" && x == math.Trunc(x)
	case bool:
		return typ == "" || typ == "boolean"
	case []any:
		return typ == "" || typ == "array"
	case map[string]any:
		return typ == "" || typ == "object"
	}
	return true
}

// jsonKind is a JSON value's kind: its first character, all numbers alike.
func jsonKind(value string) byte {
	if value == "" || strings.ContainsRune("-0123456789", rune(value[0])) {
		return '0'
	}
	return value[0]
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func quote(s string) string { return jsonOf(s) }

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
