package tests

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The spec explains itself: /docs shows every description, so every operation and component
// schema has one, and nearly every property (a property that is only a $ref is described by
// the schema it names). redocly.yaml holds the same rules for `make lint`.
const (
	operationsDescribed = 100.0 // percent
	schemasDescribed    = 100.0
	propertiesDescribed = 95.0
	missingListed       = 30 // what is missing is listed up to this many per kind
)

func TestSpecIsDescribed(t *testing.T) {
	t.Parallel()
	spec := ourSpec(t)

	var ops coverage
	for _, path := range slices.Sorted(maps.Keys(spec.Paths.Map())) {
		item := spec.Paths.Value(path)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.GetOperation(method)
			ops.count(method+" "+path+" ("+op.OperationID+")", described(op.Description))
		}
	}

	var schemas coverage
	for _, name := range slices.Sorted(maps.Keys(spec.Components.Schemas)) {
		s := spec.Components.Schemas[name]
		schemas.count("components/schemas/"+name, s.Value != nil && described(s.Value.Description))
	}

	// Properties: of the component schemas first (so a property is named where it is
	// written), then of every schema reached from an operation, at any depth.
	w := propertyWalk{seen: map[*openapi3.Schema]bool{}, counted: map[propertyKey]bool{}}
	for _, name := range slices.Sorted(maps.Keys(spec.Components.Schemas)) {
		w.schema(spec.Components.Schemas[name], "components/schemas/"+name)
	}
	for _, path := range slices.Sorted(maps.Keys(spec.Paths.Map())) {
		item := spec.Paths.Value(path)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.GetOperation(method)
			where := method + " " + path
			for _, p := range op.Parameters {
				w.schema(p.Value.Schema, where+" parameter "+p.Value.Name)
			}
			if op.RequestBody != nil {
				w.content(op.RequestBody.Value.Content, where+" request")
			}
			for _, status := range slices.Sorted(maps.Keys(op.Responses.Map())) {
				w.content(op.Responses.Value(status).Value.Content, where+" "+status)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Components.Responses)) {
		w.content(spec.Components.Responses[name].Value.Content, "components/responses/"+name)
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Components.RequestBodies)) {
		w.content(spec.Components.RequestBodies[name].Value.Content, "components/requestBodies/"+name)
	}

	t.Logf("operations with a description: %s", ops.percent())
	t.Logf("component schemas with a description: %s", schemas.percent())
	t.Logf("schema properties with a description: %s", w.properties.percent())
	ops.require(t, "operations", operationsDescribed, "an operation needs a description")
	schemas.require(t, "component schemas", schemasDescribed, "a component schema needs a description")
	w.properties.require(t, "schema properties", propertiesDescribed,
		"a property needs a description, or to be a bare $ref to a described component schema")
}

// coverage counts described things and names the ones that are not.
type coverage struct {
	total   int
	missing []string
}

func (c *coverage) count(name string, ok bool) {
	c.total++
	if !ok {
		c.missing = append(c.missing, name)
	}
}

func (c *coverage) share() float64 {
	if c.total == 0 {
		return 100
	}
	return 100 * float64(c.total-len(c.missing)) / float64(c.total)
}

func (c *coverage) percent() string {
	return fmt.Sprintf("%.1f%% (%d of %d)", c.share(), c.total-len(c.missing), c.total)
}

func (c *coverage) require(t *testing.T, what string, threshold float64, rule string) {
	t.Helper()
	if c.share() >= threshold {
		return
	}
	list := slices.Sorted(slices.Values(c.missing))
	more := ""
	if len(list) > missingListed {
		list, more = list[:missingListed], fmt.Sprintf("\n  … and %d more", len(c.missing)-missingListed)
	}
	t.Errorf("%s with a description: %s, want at least %g%% (%s); %d without:\n  %s%s",
		what, c.percent(), threshold, rule, len(c.missing), strings.Join(list, "\n  "), more)
}

func described(s string) bool { return strings.TrimSpace(s) != "" }

// propertyKey is a property as written: the schema that owns it and its name.
type propertyKey struct {
	owner *openapi3.Schema
	name  string
}

// propertyWalk visits every schema once and counts every property it owns once.
type propertyWalk struct {
	seen       map[*openapi3.Schema]bool
	counted    map[propertyKey]bool
	properties coverage
}

func (w *propertyWalk) content(c openapi3.Content, where string) {
	for _, mediaType := range slices.Sorted(maps.Keys(c)) {
		w.schema(c[mediaType].Schema, where+" "+mediaType)
	}
}

// schema counts s's properties and walks everything nested in it: properties, items,
// allOf/oneOf/anyOf/not, additionalProperties.
func (w *propertyWalk) schema(s *openapi3.SchemaRef, where string) {
	if s == nil || s.Value == nil || w.seen[s.Value] {
		return
	}
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		where = "components/schemas/" + name // a named schema's properties go by its name
	}
	v := s.Value
	w.seen[v] = true
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		p := v.Properties[name]
		if key := (propertyKey{v, name}); !w.counted[key] {
			w.counted[key] = true
			label := where + "." + name
			if target, ok := strings.CutPrefix(p.Ref, "#/components/schemas/"); ok {
				label += " (a bare $ref to " + target + ", which has none)"
			}
			w.properties.count(label, propertyDescribed(p))
		}
		w.schema(p, where+"."+name)
	}
	w.schema(v.Items, where+"[]")
	for _, parts := range []struct {
		kind string
		refs openapi3.SchemaRefs
	}{{"allOf", v.AllOf}, {"oneOf", v.OneOf}, {"anyOf", v.AnyOf}} {
		for i, part := range parts.refs {
			w.schema(part, where+"."+parts.kind+"["+strconv.Itoa(i)+"]")
		}
	}
	w.schema(v.Not, where+".not")
	w.schema(v.AdditionalProperties.Schema, where+".additionalProperties")
}

// propertyDescribed: its own description, or, for a bare $ref (OpenAPI 3.0 ignores anything
// written next to one), the named schema's.
func propertyDescribed(p *openapi3.SchemaRef) bool {
	return p != nil && p.Value != nil && described(p.Value.Description)
}

// TestEveryOperationListsItsErrors: each operation says, in its own x-evotor-codes, every
// answer other than success it gives — {code, status, when} with an integer code (Evotor's, or
// the HTTP status for answers Evotor has no code for), an integer status among its declared
// responses, and non-empty words for when — and each 4xx/5xx response it declares is given by
// at least one entry. /docs renders the list as the operation's error table.
func TestEveryOperationListsItsErrors(t *testing.T) {
	t.Parallel()
	spec := ourSpec(t)
	var without, problems []string
	total := 0
	for _, path := range slices.Sorted(maps.Keys(spec.Paths.Map())) {
		item := spec.Paths.Value(path)
		for _, method := range slices.Sorted(maps.Keys(item.Operations())) {
			op := item.GetOperation(method)
			total++
			found, ok := errorCodeProblems(op)
			for _, f := range found {
				line := fmt.Sprintf("%s %s (%s): %s", method, path, op.OperationID, f)
				if ok {
					problems = append(problems, line)
				} else {
					without = append(without, line)
				}
			}
		}
	}
	t.Logf("operations with an operation-level x-evotor-codes list: %d of %d", total-len(without), total)
	if len(without) > 0 {
		more := ""
		if len(without) > missingListed {
			without, more = without[:missingListed], fmt.Sprintf("\n  … and %d more", len(without)-missingListed)
		}
		t.Errorf("%d of %d operations have no operation-level x-evotor-codes:\n  %s%s", len(without), total, strings.Join(without, "\n  "), more)
	}
	if len(problems) > 0 { // every one: they are few, and each is a fix to make
		t.Errorf("%d problems in the operations' x-evotor-codes:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// errorCodeProblems checks one operation's x-evotor-codes; ok says the operation has the list.
func errorCodeProblems(op *openapi3.Operation) (problems []string, ok bool) {
	declared := slices.Sorted(maps.Keys(op.Responses.Map()))
	var errorStatuses []string
	for _, status := range declared {
		if status[0] == '4' || status[0] == '5' {
			errorStatuses = append(errorStatuses, status)
		}
	}
	ext, present := op.Extensions["x-evotor-codes"]
	if !present {
		if len(errorStatuses) == 0 {
			return []string{"no operation-level x-evotor-codes (it declares no error response: `x-evotor-codes: []`)"}, false
		}
		return []string{fmt.Sprintf("no operation-level x-evotor-codes (its error responses: %s)", strings.Join(errorStatuses, ", "))}, false
	}
	entries, isList := ext.([]any)
	if !isList {
		return []string{fmt.Sprintf("x-evotor-codes is %T, want a list of {code, status, when}", ext)}, false
	}
	given := map[string]bool{} // the declared responses some entry stands for
	listed := map[string]int{} // an entry (code, status, when) → where it is first listed
	for i, e := range entries {
		at := fmt.Sprintf("x-evotor-codes[%d]", i)
		m, isMap := e.(map[string]any)
		if !isMap {
			problems = append(problems, fmt.Sprintf("%s is %v, want {code, status, when}", at, e))
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(m)) {
			if key != "code" && key != "status" && key != "when" {
				problems = append(problems, fmt.Sprintf("%s has %q, which is not code, status or when", at, key))
			}
		}
		code, codeOK := wholeNumber(m["code"])
		if !codeOK {
			problems = append(problems, fmt.Sprintf("%s: code %v is not an integer", at, show(m["code"])))
		}
		status, statusOK := wholeNumber(m["status"])
		if !statusOK {
			problems = append(problems, fmt.Sprintf("%s: status %v is not an integer", at, show(m["status"])))
		} else if response := declaredResponse(declared, status); response == "" {
			problems = append(problems, fmt.Sprintf("%s: status %d is not a declared response (declared: %s)", at, status, strings.Join(declared, ", ")))
		} else {
			given[response] = true
		}
		if codeOK && statusOK {
			if code < 1000 && code != status {
				problems = append(problems, fmt.Sprintf("%s: code %d is neither Evotor's (≥ 1000) nor the status %d", at, code, status))
			}
			// one code and status may well be given in two situations, each its own entry
			when, _ := m["when"].(string)
			key := fmt.Sprintf("%d/%d/%s", code, status, strings.TrimSpace(when))
			if first, dup := listed[key]; dup {
				problems = append(problems, fmt.Sprintf("%s repeats x-evotor-codes[%d] (code %d, status %d, the same when)", at, first, code, status))
			} else {
				listed[key] = i
			}
		}
		if when, _ := m["when"].(string); strings.TrimSpace(when) == "" {
			problems = append(problems, fmt.Sprintf("%s: when is missing or empty (say when the answer is given)", at))
		}
	}
	for _, status := range errorStatuses {
		if !given[status] {
			problems = append(problems, fmt.Sprintf("declared response %s has no x-evotor-codes entry", status))
		}
	}
	return problems, true
}

// wholeNumber is an integer as the loader decodes it (a JSON number, float64); a quoted
// '409' is a string and not accepted.
func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	case int:
		return n, true
	case int64:
		return int(n), true
	}
	return 0, false
}

// declaredResponse is the response key status falls under: itself, or its range ("4XX").
func declaredResponse(declared []string, status int) string {
	exact := strconv.Itoa(status)
	for _, d := range declared {
		if d == exact {
			return d
		}
	}
	for _, d := range declared {
		if len(exact) == 3 && strings.EqualFold(d, exact[:1]+"XX") {
			return d
		}
	}
	return ""
}

func show(v any) string {
	if v == nil {
		return "(missing)"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
