package security

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/generated"
)

const minimalReceipt = `{"id":"r","version":VERSION,"timestamp":1,"data":{"id":"d","storeId":"s","type":"SELL"}}`

func receiptWithVersion(v string) string { return strings.Replace(minimalReceipt, "VERSION", v, 1) }

// TestCompiledBodyRefusals: where the compiled validator is stricter than kin-openapi alone
// (the reader's grammar, int64 exactly), and the refusals it shares with the previous decoder.
func TestCompiledBodyRefusals(t *testing.T) {
	ops, _ := newBodyOperations(t)
	receipts := ops["postreceipts"]
	cases := []struct {
		name, body string
		want       verdict
	}{
		{"int64 max", receiptWithVersion("9223372036854775807"), verdict{}},
		{"int64 min", receiptWithVersion("-9223372036854775808"), verdict{}},
		{"2^63 (kin's float64 comparison let it through)", receiptWithVersion("9223372036854775808"), verdict{2003, "version"}},
		{"below int64", receiptWithVersion("-9223372036854775809"), verdict{2003, "version"}},
		{"millis beyond int64", strings.Replace(receiptWithVersion("1"), `"timestamp":1`, `"timestamp":9223372036854775808`, 1), verdict{2003, "timestamp"}},
		{"a name repeated", `{"id":"r","id":"q","data":{"id":"d","storeId":"s","type":"SELL"}}`, verdict{2003, "id"}},
		{"a nested name repeated", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL","type":"BUY"}}`, verdict{2003, "type"}},
		{"a lone surrogate escape", `{"id":"\ud800","data":{"id":"d","storeId":"s","type":"SELL"}}`, verdict{2001, ""}},
		{"a raw control character", "{\"id\":\"a\x01b\",\"data\":{\"id\":\"d\",\"storeId\":\"s\",\"type\":\"SELL\"}}", verdict{2001, ""}},
		{"invalid UTF-8", "{\"id\":\"\xff\",\"data\":{\"id\":\"d\",\"storeId\":\"s\",\"type\":\"SELL\"}}", verdict{2001, "body"}},
		{"NUL escaped", `{"id":"r\u0000","data":{"id":"d","storeId":"s","type":"SELL"}}`, verdict{2003, "id"}},
		{"NUL in a name", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL","x\u0000":1}}`, verdict{2003, "data"}},
		{"a second value", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL"}} {}`, verdict{2001, ""}},
		{"garbage after", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL"}}x`, verdict{2001, ""}},
		{"white space only", " \n", verdict{2001, ""}},
		{"empty", "", verdict{2002, "body"}},
		{"64 levels", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL","extras":{"x":` + deep(61) + `}}}`, verdict{}},
		{"65 levels", `{"id":"r","data":{"id":"d","storeId":"s","type":"SELL","extras":{"x":` + deep(62) + `}}}`, verdict{2003, "body"}},
	}
	for _, c := range cases {
		if got := receipts.compiledVerdict([]byte(c.body)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// A property with a default stands for it when absent or null, as kin-openapi wrote it in.
	accounts := ops["admincreateaccount"]
	for _, body := range []string{`{"login":"a","password":"p"}`, `{"login":"a","password":"p","hasBilling":null}`} {
		if got := accounts.compiledVerdict([]byte(body)); got != (verdict{}) {
			t.Errorf("%s: %v", body, got)
		}
	}
	if got := accounts.compiledVerdict([]byte(`{"login":"a","password":"p","hasBilling":"no"}`)); got != (verdict{2003, "hasBilling"}) {
		t.Errorf("hasBilling a string: %v", got)
	}
}

func deep(levels int) string { return strings.Repeat("[", levels) + strings.Repeat("]", levels) }

// TestCompilerRefusesWhatItCannotCheck: a request schema with a keyword or format the compiled
// validator does not implement stops start-up instead of going unchecked.
func TestCompilerRefusesWhatItCannotCheck(t *testing.T) {
	one, always := 1.0, true
	refused := map[string]*openapi3.Schema{
		"true":      {Always: &always}, // a boolean schema: no keywords to compile
		"not":       {Not: openapi3.NewStringSchema().NewRef()},
		"minItems":  {Type: &openapi3.Types{"array"}, MinItems: 1},
		"multiple":  {Type: &openapi3.Types{"number"}, MultipleOf: &one},
		"date-time": openapi3.NewDateTimeSchema(),
		"readOnly":  {Type: &openapi3.Types{"string"}, ReadOnly: true},
		"deep":      openapi3.NewObjectSchema().WithProperty("x", openapi3.NewArraySchema().WithItems(&openapi3.Schema{UniqueItems: true})),
	}
	for name, s := range refused {
		if _, err := (schemaCompiler{}).compile(s.NewRef()); err == nil {
			t.Errorf("%s compiled", name)
		}
	}
	accepted := []*openapi3.Schema{
		{Type: &openapi3.Types{"number"}, Format: "double"}, // kin-openapi defines no double: nothing to check
		{Type: &openapi3.Types{"string"}, Format: "email"},
		{Type: &openapi3.Types{"string"}, Description: "d", Extensions: map[string]any{"x-note": 1}},
	}
	for _, s := range accepted {
		if _, err := (schemaCompiler{}).compile(s.NewRef()); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// TestBindExact: names match exactly, a union is handed a string's value in its minimal form,
// and a number its Go type cannot hold is a 2003 on its field.
func TestBindExact(t *testing.T) {
	var r generated.Receipt
	body := `{"id":"r","ID":"x","data":{"id":"d","storeId":"s","StoreId":"evil","type":"SELL","totalAmount":"\u0031\u002e5"},"version":2}`
	if err := BindExact([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Id != "r" || r.Data.StoreId != "s" || *r.Version != 2 {
		t.Fatalf("bound %+v", r)
	}
	if b, _ := r.Data.TotalAmount.MarshalJSON(); string(b) != `"1.5"` {
		t.Fatalf("totalAmount kept as %s", b)
	}
	err := BindExact([]byte(receiptWithVersion("1.0")), &r)
	if got := verdictOf(err); got != (verdict{2003, "version"}) {
		t.Fatalf("1.0 into an int64: %v (%v)", got, err)
	}
}

// TestNewValidatorRefusesAnUncheckableBody: the refusal reaches start-up, naming where.
func TestNewValidatorRefusesAnUncheckableBody(t *testing.T) {
	spec, err := generated.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	spec.Components.Schemas["Store"].Value.Properties["name"] = &openapi3.SchemaRef{Value: &openapi3.Schema{
		Not: openapi3.NewStringSchema().NewRef()}}
	_, err = NewValidator(spec, Config{App: AppCredentials{Tokens: []string{"3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"}}})
	if err == nil || !strings.Contains(err.Error(), "PutStores") || !strings.Contains(err.Error(), "not") {
		t.Fatalf("NewValidator: %v", err)
	}
}

// TestBindExactWithoutEscapesNeedsNoCanonicalForm: for a body without a backslash, json's own
// binding (BindExact's fast path) equals the binding through canonicalUnionStrings, whatever
// the characters in the union strings.
func TestBindExactWithoutEscapesNeedsNoCanonicalForm(t *testing.T) {
	plain := rapid.StringOf(rapid.Rune().Filter(func(r rune) bool { return r >= 0x20 && r != '"' && r != '\\' }))
	union := rapid.OneOf(rapid.Map(plain, func(s string) string { return `"` + s + `"` }),
		rapid.SampledFrom([]string{"0", "-1.5e3", "123.120", "null", `"0.000"`, `"<&>"`, "\"\u2028\u2029\""}))
	rapid.Check(t, func(t *rapid.T) {
		body := fmt.Sprintf(`{"id":"r","data":{"id":"d","storeId":"s","type":"SELL","totalAmount":%s,"items":[{"name":"%s","price":%s,"quantity":%s}]}}`,
			union.Draw(t, "total"), plain.Draw(t, "name"), union.Draw(t, "price"), union.Draw(t, "quantity"))
		var fast, canonical generated.Receipt
		errFast := json.Unmarshal([]byte(body), &fast)
		errCanonical := json.Unmarshal([]byte(body), &canonical, canonicalUnionStrings)
		if (errFast == nil) != (errCanonical == nil) || !reflect.DeepEqual(fast, canonical) {
			t.Fatalf("%s: fast %+v (%v), canonical %+v (%v)", body, fast, errFast, canonical, errCanonical)
		}
	})
}

// TestAllOfAgreesWithKin: a property written allOf: [{$ref}] (to carry a description of its
// own) admits exactly what the referenced schema admits, as kin-openapi judges it, null included.
func TestAllOfAgreesWithKin(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},
"components":{"schemas":{
 "Id":{"type":"string","minLength":1,"maxLength":4,"nullable":true},
 "Num":{"anyOf":[{"type":"number","nullable":true},{"type":"string","pattern":"^[0-9]+$","nullable":true}]},
 "S":{"type":"object","properties":{
   "id":{"description":"own","allOf":[{"$ref":"#/components/schemas/Id"}]},
   "n":{"description":"own","allOf":[{"$ref":"#/components/schemas/Num"}]}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["S"]
	rapid.Check(t, func(t *rapid.T) {
		member := rapid.SampledFrom([]string{"id", "n"}).Draw(t, "member")
		value := rapid.SampledFrom([]string{`null`, `""`, `"a"`, `"abcd"`, `"abcde"`, `"12"`, `12`, `1.5`, `true`, `{}`, `[]`, `"x1"`}).Draw(t, "value")
		body := fmt.Sprintf(`{%q:%s}`, member, value)
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		kinErr := s.Value.VisitJSON(v)
		ourErr := CheckValue(s, []byte(body))
		if (kinErr == nil) != (ourErr == nil) {
			t.Fatalf("%s: kin %v, compiled %v", body, kinErr, ourErr)
		}
		if ourErr != nil && verdictOf(ourErr) != (verdict{2003, member}) {
			t.Fatalf("%s: %v, want 2003 %q", body, verdictOf(ourErr), member)
		}
	})
}

// TestElementSpansAreTheElements: whatever the whitespace around and between them, the spans
// of an array body are exactly its elements' bytes (the one array splitter, eachElement).
func TestElementSpansAreTheElements(t *testing.T) {
	space := rapid.StringOf(rapid.SampledFrom([]rune(" \t\r\n")))
	element := rapid.SampledFrom([]string{`{"id":"a"}`, `{ "id" : "b", "data" : { "items" : [ 1, 2 ] } }`, `{"s":"[ ] , \" ]"}`, `1`, `"x"`, `[]`})
	rapid.Check(t, func(t *rapid.T) {
		elements := rapid.SliceOfN(element, 0, 5).Draw(t, "elements")
		var b strings.Builder
		b.WriteString(space.Draw(t, "lead") + "[")
		for i, el := range elements {
			if i > 0 {
				b.WriteString(space.Draw(t, "before comma") + ",")
			}
			b.WriteString(space.Draw(t, "before") + el + space.Draw(t, "after"))
		}
		b.WriteString(space.Draw(t, "inside") + "]" + space.Draw(t, "trail"))
		body := []byte(b.String())
		spans, err := elementSpans(body)
		if err != nil || len(spans) != len(elements) {
			t.Fatalf("%q: %d spans, %v", body, len(spans), err)
		}
		for i, sp := range spans {
			if got := string(body[sp.start:sp.end]); got != elements[i] {
				t.Fatalf("%q: element %d is %q, want %q", body, i, got, elements[i])
			}
		}
	})
}

// TestRefusedArrayBodyCostsLittle: a 16 MB array of 8 million zeros to a notification (each
// element refused) is refused reading it once, without keeping where each element lies
// (that alone took hundreds of megabytes): the check allocates a small fraction of the body.
func TestRefusedArrayBodyCostsLittle(t *testing.T) {
	ops, _ := newBodyOperations(t)
	body := []byte("[" + strings.Repeat("0,", 8<<20-1) + "0]")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := ops["putdevices"].compiledVerdict(body)
	runtime.ReadMemStats(&after)
	if got.code != 2003 {
		t.Fatalf("verdict %v", got)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > uint64(len(body))/4 {
		t.Fatalf("refusing a %d MiB array allocated %d MiB", len(body)>>20, allocated>>20)
	}
}

// TestLargeBodiesLeaveNothingPooled: the parser that read a large body keeps memory for it, so
// its doc is not pooled again; a small body's is.
func TestLargeBodiesLeaveNothingPooled(t *testing.T) {
	small := []byte(`{"a":[1,2,3]}`)
	large := []byte(`{"a":"` + strings.Repeat("x", largeValue) + `"}`)
	for _, c := range []struct {
		body   []byte
		pooled bool
	}{{small, true}, {large, false}} {
		d, err := parseBody(c.body)
		if err != nil {
			t.Fatal(err)
		}
		d.release()
		again := jsonDocs.Get().(*jsonDoc) // the pool gives back what this goroutine put, if anything
		if (again == d) != c.pooled {
			t.Errorf("%d bytes: pooled again %v, want %v", len(c.body), again == d, c.pooled)
		}
		jsonDocs.Put(again)
	}
}
