package impl

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// A response with no example of its own is documented by the envelopes of its x-evotor-codes.
func TestErrorResponseWithoutExampleShowsItsCodes(t *testing.T) {
	desc := "1001 wrong app credential"
	r := &openapi3.Response{
		Description: &desc,
		Extensions:  map[string]any{"x-evotor-codes": []any{1001.0, 1002.0}},
		Content:     openapi3.NewContentWithJSONSchema(openapi3.NewObjectSchema()),
	}
	got := response("401", r)
	if len(got.Examples) != 2 {
		t.Fatalf("%d examples, want one per code: %+v", len(got.Examples), got.Examples)
	}
	want := "HTTP/1.1 401 Unauthorized\nContent-Type: application/json\n\n" + `{"errors":[{"code":1002}]}`
	if got.Examples[1].Text != want {
		t.Errorf("example of code 1002:\n%s\nwant:\n%s", got.Examples[1].Text, want)
	}

	r.Content["application/json"].Examples = openapi3.Examples{"admin": {Value: &openapi3.Example{
		Summary: "Wrong admin token", Value: map[string]any{"errors": []any{map[string]any{"code": 401.0, "reason": "unauthorized"}}}}}}
	got = response("401", r)
	if len(got.Examples) != 1 || got.Examples[0].Title != "Wrong admin token" || !strings.HasSuffix(got.Examples[0].Text, `{"errors":[{"code":401,"reason":"unauthorized"}]}`) {
		t.Errorf("the response's own example is not what is shown: %+v", got.Examples)
	}
}

// A schema that contains itself is listed to a bounded depth, not forever.
func TestRecursiveSchemaStops(t *testing.T) {
	node := openapi3.NewObjectSchema()
	node.Properties = openapi3.Schemas{"name": openapi3.NewStringSchema().NewRef()}
	node.Properties["children"] = openapi3.NewArraySchema().WithItems(node).NewRef()
	rows := children(&openapi3.SchemaRef{Ref: "#/components/schemas/Node", Value: node}, 0, nil)
	if len(rows) == 0 || len(rows) > 2*(maxSchemaDepth+1) {
		t.Fatalf("%d rows for a recursive schema", len(rows))
	}
	if rows[0].Name != "children" || rows[0].Type != "array of object" {
		t.Errorf("first row %+v", rows[0])
	}
}

// Nested objects are listed under their parent, with every constraint the schema states.
func TestNestedFieldsAndConstraints(t *testing.T) {
	limit := openapi3.NewIntegerSchema().WithMin(1).WithMax(500).WithDefault(100)
	kind := openapi3.NewStringSchema().WithEnum("SELL", "PAYBACK").WithNullable()
	inner := openapi3.NewObjectSchema().WithProperty("kind", kind).WithProperty("limit", limit)
	inner.Required = []string{"limit"}
	outer := openapi3.NewObjectSchema().WithProperty("data", inner)
	rows := children(outer.NewRef(), 0, nil)
	names := []string{}
	for _, r := range rows {
		names = append(names, strings.Repeat(">", r.Depth)+r.Name)
	}
	if strings.Join(names, " ") != "data >limit >kind" {
		t.Fatalf("rows %v, want data with limit (required first) and kind under it", names)
	}
	if got := strings.Join(rows[1].Facts, ", "); got != "default 100, ≥ 1, ≤ 500" || !rows[1].Required {
		t.Errorf("limit: facts %q, required %v", got, rows[1].Required)
	}
	if got := strings.Join(rows[2].Enum, " "); got != `"SELL" "PAYBACK"` || !rows[2].Nullable {
		t.Errorf("kind: enum %q, nullable %v", got, rows[2].Nullable)
	}
}

// A description repeated for the same type in one table is given once.
func TestDescriptionGivenOnce(t *testing.T) {
	id := &openapi3.SchemaRef{Ref: "#/components/schemas/EvotorId", Value: openapi3.NewStringSchema().WithMinLength(1)}
	id.Value.Description = "An Evotor id."
	body := openapi3.NewObjectSchema().WithPropertyRef("uuid", id).WithPropertyRef("storeUuid", id)
	rows := fieldRows(body.NewRef())
	if len(rows) != 2 || rows[0].Description == "" || rows[1].Description != "" || !slices.Contains(rows[1].Facts, "described above") {
		t.Fatalf("rows %+v", rows)
	}
}
