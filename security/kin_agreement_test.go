package security

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// The compiled body validator (bodyschema.go) replaced kin-openapi's per-request schema walk.
// These tests hold it to kin-openapi's verdicts, as the previous validator rendered them (the
// reference below is that validator's body path: its strict decoder, kin-openapi's
// ValidateRequestBody and its error mapping), on every Evotor fixture and on random mutations
// of them: same acceptance, same Evotor code, same subject.

var fixturesDir = filepath.Join("..", "tests", "testdata", "evotor", "requests")

// verdict is how a body is answered: accepted, or a code with its subject.
type verdict struct {
	code    int // 0: accepted
	subject string
}

func (v verdict) String() string {
	if v.code == 0 {
		return "accepted"
	}
	return fmt.Sprintf("%d %q", v.code, v.subject)
}

func verdictOf(err error) verdict {
	if err == nil {
		return verdict{}
	}
	a := AnswerFor(err)
	env, _ := a.Body.(generated.Errors)
	if len(env.Errors) == 0 {
		return verdict{code: a.Status}
	}
	subject := ""
	if s := env.Errors[0].Subject; s != nil {
		subject = *s
	}
	return verdict{code: env.Errors[0].Code, subject: subject}
}

// bodyOperations are the spec's operations with a body, with the compiled validator's view.
type bodyOperation struct {
	id       string
	compiled *operation
	spec     *openapi3.Operation
}

func newBodyOperations(t testing.TB) (map[string]bodyOperation, *openapi3.T) {
	spec, err := generated.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(spec, Config{App: AppCredentials{Tokens: []string{"3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"}}})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bodyOperation{}
	for _, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			for key, o := range v.ops {
				if o.id == op.OperationID && key.method == method {
					ops[strings.ToLower(op.OperationID)] = bodyOperation{id: op.OperationID, compiled: o, spec: op}
				}
			}
		}
	}
	return ops, spec
}

var registerReference sync.Once

// reference is the previous validator's verdict on a body: kin-openapi's.
func (o bodyOperation) reference(spec *openapi3.T, body []byte) verdict {
	registerReference.Do(func() { openapi3filter.RegisterBodyDecoder("application/json", referenceJSONBody) })
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	err := openapi3filter.ValidateRequestBody(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, Options: &openapi3filter.Options{
			SchemaValidationOptions: append(spec.GetSchemaValidationOptions(), openapi3.DisableSchemaErrorDetails())},
	}, o.spec.RequestBody.Value)
	if err != nil {
		return verdictOf(referenceFailure(err))
	}
	return verdict{}
}

func (o bodyOperation) compiledVerdict(body []byte) verdict {
	if err := o.compiled.checkBody(body); err != nil {
		return verdictOf(err)
	}
	return verdict{}
}

// TestCompiledSchemasAgreeWithKinOnFixtures: every Evotor fixture is accepted by both.
func TestCompiledSchemasAgreeWithKinOnFixtures(t *testing.T) {
	ops, spec := newBodyOperations(t)
	names := fixtureNames(t)
	for _, name := range names {
		o := fixtureOp(t, ops, name)
		body := readFixture(t, name)
		ref, got := o.reference(spec, body), o.compiledVerdict(body)
		if ref != (verdict{}) || got != (verdict{}) {
			t.Errorf("%s (%s): kin %v, compiled %v", name, o.id, ref, got)
		}
	}
}

// TestCompiledSchemasAgreeWithKin (property): a fixture with one to three random changes — a
// member removed, added (under a spec name, a case variant, or digits) or replaced by another
// value of any JSON type — gets the same verdict from both: accepted, or the same code and
// subject.
func TestCompiledSchemasAgreeWithKin(t *testing.T) {
	ops, spec := newBodyOperations(t)
	seeds := bodySeeds(t, ops)
	memberNames := specPropertyNames(spec)
	refused := map[int]int{}
	rapid.Check(t, func(rt *rapid.T) {
		seed := rapid.SampledFrom(seeds).Draw(rt, "seed")
		name, o := seed.name, seed.op
		var value any
		dec := json.NewDecoder(bytes.NewReader(seed.body))
		dec.UseNumber()
		if err := dec.Decode(&value); err != nil {
			rt.Fatal(err)
		}
		m := mutation{rt: rt, names: memberNames}
		for i, n := 0, rapid.IntRange(1, 3).Draw(rt, "changes"); i < n; i++ {
			value = m.apply(value)
		}
		body, err := json.Marshal(value)
		if err != nil {
			rt.Fatal(err)
		}
		ref, got := o.reference(spec, body), o.compiledVerdict(body)
		if m.nuls > 1 { // the reference met NULs in map order: only the code is certain
			ref.subject, got.subject = "", ""
		}
		if ref != got {
			rt.Fatalf("%s (%s) %s\nkin: %v\ncompiled: %v", name, o.id, body, ref, got)
		}
		refused[got.code]++
	})
	t.Logf("verdicts by code: %v", refused)
}

// bodySeed is a body the property mutates.
type bodySeed struct {
	name string
	op   bodyOperation
	body []byte
}

// bodySeeds: every Evotor fixture, and a body for each operation Evotor does not call.
func bodySeeds(t testing.TB, ops map[string]bodyOperation) []bodySeed {
	var seeds []bodySeed
	for _, name := range fixtureNames(t) {
		seeds = append(seeds, bodySeed{name, fixtureOp(t, ops, name), readFixture(t, name)})
	}
	for _, s := range []struct{ op, body string }{
		{"admincreateaccount", `{"login":"shop@example.ru","password":"p","hasBilling":true}`},
		{"adminresenddeadmessages", `{"destination":"https://partner.example.ru/hook"}`},
	} {
		seeds = append(seeds, bodySeed{s.op, ops[s.op], []byte(s.body)})
	}
	covered := map[string]bool{}
	for _, s := range seeds {
		covered[s.op.id] = true
	}
	for _, o := range ops {
		if !covered[o.id] {
			t.Errorf("no seed body for %s: add one", o.id)
		}
	}
	return seeds
}

// mutation changes a decoded body at a random place.
type mutation struct {
	rt    *rapid.T
	names []string
	nuls  int
}

func (m *mutation) apply(v any) any {
	switch c := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(c))
		switch op := rapid.IntRange(0, 9).Draw(m.rt, "object op"); {
		case op == 0 || len(keys) == 0:
			c[rapid.SampledFrom(m.names).Draw(m.rt, "new member")] = m.value()
		case op == 1:
			delete(c, rapid.SampledFrom(keys).Draw(m.rt, "removed"))
		case op == 2:
			return m.value()
		default:
			k := rapid.SampledFrom(keys).Draw(m.rt, "into")
			c[k] = m.apply(c[k])
		}
		return c
	case []any:
		switch op := rapid.IntRange(0, 5).Draw(m.rt, "array op"); {
		case op == 0:
			return append(c, m.value())
		case op == 1:
			return m.value()
		case len(c) > 0:
			i := rapid.IntRange(0, len(c)-1).Draw(m.rt, "element")
			c[i] = m.apply(c[i])
		}
		return c
	}
	return m.value()
}

// value draws a replacement: every JSON type, at and around the spec's limits.
func (m *mutation) value() any {
	values := []any{nil, true, false,
		json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("1.0"), json.Number("1e2"),
		json.Number("-0"), json.Number("9223372036854775807"), json.Number("-9223372036854775808"),
		json.Number("99999999999999999999"), json.Number("1e400"), json.Number("123.12"),
		"", "x", "2529", "12.50", "-3", "1.", "0.000", "1504168645290", "15041686452901234567890",
		"2017-01-10T09:33:19.757+0000", "2019-10-28T21:14:12.174Z", "2017-13-10T09:33:19Z", "SELL",
		strings.Repeat("я", 256), strings.Repeat("я", 257), "a\x00b",
		map[string]any{}, []any{}, []any{"x"}, []any{json.Number("1")}, map[string]any{"id": "x"},
	}
	v := rapid.SampledFrom(values).Draw(m.rt, "value")
	if s, ok := v.(string); ok && strings.Contains(s, "\x00") {
		m.nuls++
	}
	return v
}

// specPropertyNames: every property name of the spec's schemas, a case variant of each, and
// names the schemas do not know (digits among them, which kin's pointers read as an index).
func specPropertyNames(spec *openapi3.T) []string {
	seen := map[string]bool{"123": true, "0": true, "unknown": true}
	for _, s := range spec.Components.Schemas {
		collectNames(s.Value, seen, map[*openapi3.Schema]bool{})
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func collectNames(s *openapi3.Schema, seen map[string]bool, done map[*openapi3.Schema]bool) {
	if s == nil || done[s] {
		return
	}
	done[s] = true
	for name, p := range s.Properties {
		seen[name], seen[strings.ToUpper(name)] = true, true
		collectNames(p.Value, seen, done)
	}
	for _, alt := range append(slices.Clone(s.OneOf), s.AnyOf...) {
		collectNames(alt.Value, seen, done)
	}
	if s.Items != nil {
		collectNames(s.Items.Value, seen, done)
	}
}

func fixtureNames(t testing.TB) []string {
	paths, err := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	if err != nil || len(paths) < 40 {
		t.Fatalf("fixtures in %s: %d, %v", fixturesDir, len(paths), err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}

func readFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureOp(t testing.TB, ops map[string]bodyOperation, name string) bodyOperation {
	c, ok := cloud.OperationForFile(name)
	if !ok {
		t.Fatalf("fixture %s maps to no operation", name)
	}
	o, ok := ops[strings.ToLower(c.ID)]
	if !ok {
		t.Fatalf("no body operation %s", c.ID)
	}
	return o
}

// --- the reference: the previous validator's body path, on kin-openapi ---

// referenceJSONBody is the previous strict decoder: one JSON value in valid UTF-8, nothing after
// it, no deeper than MaxBodyDepth, no NUL in any string or name.
func referenceJSONBody(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(raw) {
		return nil, referenceRefusal(apperr.Because(apperr.Malformed, "body", "invalid UTF-8"))
	}
	if nestedDeeperThan(raw, MaxBodyDepth) {
		return nil, referenceRefusal(apperr.Because(apperr.Incorrect, "body", "nested deeper than "+strconv.Itoa(MaxBodyDepth)+" levels"))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Reason: "content after the JSON value"}
	}
	if err := referenceCheckValue(value, "body"); err != nil {
		return nil, referenceRefusal(err)
	}
	return value, nil
}

func referenceRefusal(err *apperr.Error) error {
	return &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
}

func referenceCheckValue(v any, subject string) *apperr.Error {
	switch v := v.(type) {
	case string:
		if reason := textProblem(v); reason != "" {
			return apperr.Because(apperr.Incorrect, subject, reason)
		}
	case []any:
		for _, item := range v {
			if err := referenceCheckValue(item, subject); err != nil {
				return err
			}
		}
	case map[string]any:
		for name, item := range v {
			if reason := textProblem(name); reason != "" {
				return apperr.Because(apperr.Incorrect, subject, reason+" in a field name")
			}
			if err := referenceCheckValue(item, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// referenceFailure is the previous mapping of kin-openapi's body errors.
func referenceFailure(err error) *apperr.Error {
	var pe *openapi3filter.ParseError
	var refused *apperr.Error
	if errors.As(err, &pe) && errors.As(pe.RootCause(), &refused) {
		return refused
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
			return apperr.New(apperr.Missing, "body")
		}
		if se := referenceFirstSchemaError(re.Err); se != nil {
			subject := fieldName(se.JSONPointer())
			if se.SchemaField == "required" {
				return apperr.New(apperr.Missing, subject)
			}
			return apperr.New(apperr.Incorrect, subject)
		}
	}
	return apperr.Wrap(apperr.Malformed, err)
}

func referenceFirstSchemaError(err error) *openapi3.SchemaError {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			if se := referenceFirstSchemaError(e); se != nil {
				return se
			}
		}
		return nil
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return se
	}
	return nil
}
