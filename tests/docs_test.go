package tests

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/security"
)

func TestServerServesItsContract(t *testing.T) {
	e := newEnv(t, backends()[0])
	spec, err := e.client.GetSpecWithResponse(context.Background())
	if err != nil || spec.StatusCode() != 200 || !strings.HasPrefix(spec.HTTPResponse.Header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("/openapi.yaml: %v %d", err, spec.StatusCode())
	}
	served, err := openapi3.NewLoader().LoadFromData(spec.Body)
	if err != nil {
		t.Fatalf("the served spec does not load: %v", err)
	}
	if err := served.Validate(context.Background()); err != nil {
		t.Fatalf("the served spec is invalid: %v", err)
	}
	embedded := ourSpec(t)
	if len(served.Paths.Map()) != len(embedded.Paths.Map()) || served.Paths.Find("/api/v2/receipts") == nil {
		t.Fatalf("served %d paths, embedded %d", len(served.Paths.Map()), len(embedded.Paths.Map()))
	}

	docs, err := e.client.GetDocsWithResponse(context.Background())
	if err != nil || docs.StatusCode() != 200 || !strings.HasPrefix(docs.HTTPResponse.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %v %d", err, docs.StatusCode())
	}
	page := string(docs.Body)
	if regexp.MustCompile(`(?i)<script|src=|href="https?:|@import|url\(`).MatchString(page) {
		t.Fatal("the reference page loads scripts or external resources")
	}
	for path, item := range embedded.Paths.Map() {
		for method, op := range item.Operations() {
			section := sectionOf(t, page, op.OperationID)
			if !strings.Contains(section, ">"+method+"<") || !strings.Contains(section, path) {
				t.Errorf("%s: method or path missing", op.OperationID)
			}
		}
	}
	verify := sectionOf(t, page, "VerifyUser") // the embedded spec carries Go-cased operationIds
	for _, want := range []string{"appToken (http bearer)", "appBasic (http basic)", "<code>password</code>", "required", "<code>1006</code>", "<code>2004</code>"} {
		if !strings.Contains(verify, want) {
			t.Errorf("verifyUser's section lacks %q", want)
		}
	}
	if receipts := sectionOf(t, page, "PostReceipts"); !strings.Contains(receipts, "userToken") || !strings.Contains(receipts, "<code>1004</code>") {
		t.Error("postReceipts' section lacks its credential or its 402 code")
	}
}

func sectionOf(t *testing.T, page, id string) string {
	t.Helper()
	start := strings.Index(page, `<section class="op" id="`+id+`">`)
	if start < 0 {
		t.Fatalf("no section for %s", id)
	}
	end := strings.Index(page[start:], "</section>")
	return page[start : start+end]
}

// TestEveryExampleFitsItsSchema keeps the reference page's examples honest: every example in
// the spec (parameters, request bodies, responses) validates against the schema beside it,
// with the spec's own formats; every JSON body has at least one; and no component example is
// left unchecked because nothing uses it.
func TestEveryExampleFitsItsSchema(t *testing.T) {
	spec := ourSpec(t)
	security.RegisterFormats(spec)
	c := exampleChecker{t: t, opts: spec.GetSchemaValidationOptions(), used: map[string]bool{}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			for _, p := range op.Parameters {
				c.check(where+" parameter "+p.Value.Name, p.Value.Schema, p.Value.Example, p.Value.Examples, openapi3.VisitAsRequest())
			}
			if op.RequestBody != nil {
				c.content(where+" request", op.RequestBody.Value.Content, openapi3.VisitAsRequest())
			}
			for status, r := range op.Responses.Map() {
				c.content(where+" "+status, r.Value.Content, openapi3.VisitAsResponse())
			}
		}
	}
	for name := range spec.Components.Examples {
		if !c.used[name] {
			t.Errorf("components/examples/%s is used by no media type, so nothing checks it", name)
		}
	}
	if c.checked < 40 {
		t.Fatalf("only %d examples checked", c.checked)
	}
}

type exampleChecker struct {
	t       *testing.T
	opts    []openapi3.SchemaValidationOption
	used    map[string]bool
	checked int
}

func (c *exampleChecker) content(where string, content openapi3.Content, direction openapi3.SchemaValidationOption) {
	for name, mt := range content {
		n := c.check(where+" "+name, mt.Schema, mt.Example, mt.Examples, direction)
		if n == 0 && name == "application/json" {
			c.t.Errorf("%s %s: no example", where, name)
		}
	}
}

// check validates the example and each of the examples against schema; it returns how many.
func (c *exampleChecker) check(where string, schema *openapi3.SchemaRef, example any, examples openapi3.Examples, direction openapi3.SchemaValidationOption) int {
	values := map[string]any{}
	if example != nil {
		values["example"] = example
	}
	for name, ex := range examples {
		values[name] = ex.Value.Value
		if ex.Ref != "" {
			c.used[strings.TrimPrefix(ex.Ref, "#/components/examples/")] = true
		}
	}
	for name, v := range values {
		if err := schema.Value.VisitJSON(v, append([]openapi3.SchemaValidationOption{direction}, c.opts...)...); err != nil {
			c.t.Errorf("%s: example %q does not fit its schema: %v", where, name, err)
		}
	}
	c.checked += len(values)
	return len(values)
}
