package docs

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/generated"
)

// A response with no example of its own is documented by the envelopes of its x-evotor-codes.
func TestErrorResponseWithoutExampleShowsItsCodes(t *testing.T) {
	desc := "1001 wrong app credential"
	r := &openapi3.Response{
		Description: &desc,
		Extensions:  map[string]any{"x-evotor-codes": []any{1001.0, 1002.0}},
		Content:     openapi3.NewContentWithJSONSchema(openapi3.NewObjectSchema()),
	}
	got := response("401", r, nil)
	if len(got.Examples) != 2 {
		t.Fatalf("%d examples, want one per code: %+v", len(got.Examples), got.Examples)
	}
	want := "HTTP/1.1 401 Unauthorized\nContent-Type: application/json\n\n" + `{"errors":[{"code":1002}]}`
	if got.Examples[1].Text != want {
		t.Errorf("example of code 1002:\n%s\nwant:\n%s", got.Examples[1].Text, want)
	}

	r.Content["application/json"].Examples = openapi3.Examples{"admin": {Value: &openapi3.Example{
		Summary: "Wrong admin token", Value: map[string]any{"errors": []any{map[string]any{"code": 401.0, "reason": "unauthorized"}}}}}}
	got = response("401", r, nil)
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

// miniSpec has what /docs must show of an operation: its description, its error table
// (operation-level x-evotor-codes), every example with its summary and description, the
// descriptions of fields and of the schemas they name, and x-evotor-difference. It goes through
// kin-openapi's loader, as the embedded spec does, so the extensions are decoded the same way.
const miniSpec = `
openapi: 3.0.3
info: {title: mini, version: '1'}
paths:
  /api/v1/user/verify:
    post:
      operationId: verifyUser
      summary: Link an account
      description: |
        Evotor calls this when the user types an **existing** login.

        A second paragraph, with ` + "`code`" + `.
      x-evotor-codes:
        - {code: 1001, status: 401, when: "The app token or Basic login is wrong or missing."}
        - {code: 2002, status: 400, when: "` + "`userId`" + ` (or the legacy userUuid) is absent."}
        - {code: 413, status: 413, when: "The body is too large."}
        - {code: 1006, status: 401, when: "The login or password is wrong."}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/VerifyUserRequest'}
            examples:
              current: {summary: With userId, description: What Evotor sends *today*., value: {userId: '01-1', password: p}}
              legacy: {summary: With the legacy userUuid, value: {userUuid: '01-1', password: p}}
              third: {summary: Bare minimum, description: Only the password., value: {password: p}}
      responses:
        '200':
          description: Linked.
          content:
            application/json:
              schema: {type: object, properties: {token: {type: string, description: The user token.}}}
              examples:
                fresh: {summary: A fresh token, value: {token: a}}
                again: {summary: A retry, description: The same token again., value: {token: a}}
        '400':
          description: Bad request.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Errors'}
        '401':
          description: Unauthorized.
          x-evotor-codes: [1001, 1006]
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Errors'}
        '413':
          description: Too large.
          x-evotor-codes: [413]
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Errors'}
              examples: {'413': {summary: Too large, value: {errors: [{code: 413}]}}}
  /healthz:
    get:
      operationId: healthz
      summary: Liveness
      responses:
        '200': {description: Up.}
        '503':
          description: Down.
          x-evotor-codes: [503]
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Errors'}
components:
  schemas:
    EvotorId:
      type: string
      minLength: 1
      description: An Evotor id, opaque.
    Errors:
      type: object
      description: Evotor's error envelope.
      properties:
        errors: {type: array, items: {type: object, properties: {code: {type: integer, description: The code.}}}}
    VerifyUserRequest:
      type: object
      description: The login the user typed.
      required: [password]
      properties:
        userId: {$ref: '#/components/schemas/EvotorId'}
        userUuid:
          allOf: [{$ref: '#/components/schemas/EvotorId'}]
          description: The user, as older payloads name it.
          x-evotor-difference: Evotor's reference has only userId; its own examples send userUuid.
        storeId: {$ref: '#/components/schemas/EvotorId', x-evotor-difference: Next to a bare $ref.}
        password:
          type: string
          description: The password, never stored.
          x-evotor-difference: Evotor requires 8 characters; we accept any.
`

func renderMini(t *testing.T) (*openapi3.T, string) {
	t.Helper()
	spec, err := openapi3.NewLoader().LoadFromData([]byte(miniSpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	page, err := Page(spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, string(page)
}

// section is an operation's section of the page.
func section(t *testing.T, page, id string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `<section class="op" id="`+id+`">`)
	if !ok {
		t.Fatalf("no section for %s", id)
	}
	s, _, _ := strings.Cut(rest, "</section>")
	return s
}

// errorRows are the rows of the section's error table as status|code|when, tags stripped.
func errorRows(t *testing.T, sec string) []string {
	t.Helper()
	_, table, ok := strings.Cut(sec, `<table class="errors">`)
	if !ok {
		return nil
	}
	table, _, _ = strings.Cut(table, "</table>")
	var rows []string
	for _, tr := range regexp.MustCompile(`(?s)<tr class="error">(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
		var cells []string
		for _, td := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(td[1], ""))))
		}
		rows = append(rows, strings.Join(cells, "|"))
	}
	return rows
}

func TestOperationDescriptionAndErrorTable(t *testing.T) {
	_, page := renderMini(t)
	verify := section(t, page, "verifyUser")
	for _, want := range []string{
		`<div class="opdesc"><p>Evotor calls this when the user types an <strong>existing</strong> login.</p>`,
		`<p>A second paragraph, with <code>code</code>.</p>`,
		`<table class="errors"><thead><tr><th>HTTP status</th><th>Evotor code</th><th>When</th></tr></thead>`,
		`<td><code>userId</code> (or the legacy userUuid) is absent.</td>`, // when: inline Markdown, no <p>
	} {
		if !strings.Contains(verify, want) {
			t.Errorf("verifyUser's section lacks %s", want)
		}
	}
	// One row per entry, by status; entries of one status in the spec's order.
	want := []string{
		"400|2002|userId (or the legacy userUuid) is absent.",
		"401|1001|The app token or Basic login is wrong or missing.",
		"401|1006|The login or password is wrong.",
		"413|413|The body is too large.",
	}
	if got := errorRows(t, verify); !slices.Equal(got, want) {
		t.Errorf("error table rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(verify, `<span class="status s4">401</span>`) {
		t.Error("the status is not shown as a status badge")
	}
	// The operation-level table replaces the response's own list: no second list of 401's codes.
	if strings.Contains(verify, "Envelope codes:") {
		t.Error("a response repeats codes the error table lists")
	}
	// A response without an example shows the envelopes of the table's codes for its status.
	if !strings.Contains(verify, "<figcaption>code 2002</figcaption>") || !strings.Contains(verify, `{&#34;errors&#34;:[{&#34;code&#34;:2002}]}`) {
		t.Error("the 400 response without an example does not show code 2002's envelope")
	}
	// An operation without x-evotor-codes has no table; its response-level list is still shown.
	health := section(t, page, "healthz")
	if strings.Contains(health, `class="errors"`) {
		t.Error("healthz has an error table though it declares no x-evotor-codes")
	}
	if !strings.Contains(health, `Envelope codes: <code>503</code>`) || !strings.Contains(health, "<figcaption>code 503</figcaption>") {
		t.Error("healthz's response-level x-evotor-codes are not rendered")
	}
}

func TestEveryExampleWithSummaryAndDescription(t *testing.T) {
	_, page := renderMini(t)
	verify := section(t, page, "verifyUser")
	for _, want := range []string{
		// every request body example, each a full request
		`<figure class="example request"><figcaption>With userId</figcaption><div class="exdesc"><p>What Evotor sends <em>today</em>.</p>`,
		`<figure class="example request"><figcaption>With the legacy userUuid</figcaption><pre>POST /api/v1/user/verify HTTP/1.1`,
		`<figure class="example request"><figcaption>Bare minimum</figcaption><div class="exdesc"><p>Only the password.</p>`,
		// every response example
		`<figcaption>A fresh token</figcaption><pre>HTTP/1.1 200 OK`,
		`<figcaption>A retry</figcaption><div class="exdesc"><p>The same token again.</p>`,
		`<figcaption>Too large</figcaption><pre>HTTP/1.1 413 Request Entity Too Large`,
	} {
		if !strings.Contains(verify, want) {
			t.Errorf("verifyUser's section lacks %s", want)
		}
	}
	if n := strings.Count(verify, `<figure class="example request">`); n != 3 {
		t.Errorf("%d example requests, want the 3 body examples", n)
	}
}

func TestFieldDescriptionsAndDifferences(t *testing.T) {
	_, page := renderMini(t)
	verify := section(t, page, "verifyUser")
	rows := map[string]string{} // field name → its row
	for _, m := range regexp.MustCompile(`(?s)<tr class="d\d[^"]*"><td class="name">([^<]*)</td>(.*?)</tr>`).FindAllStringSubmatch(verify, -1) {
		if _, dup := rows[m[1]]; !dup {
			rows[m[1]] = m[2]
		}
	}
	// Rows in table order: password (required), then storeId, userId, userUuid.
	for name, want := range map[string][]string{
		// a bare $ref: the named schema's description, and the difference written next to it
		"storeId": {`<span class="type">string</span>`, "<p>An Evotor id, opaque.</p>",
			`<div class="difference"><b>Differs from Evotor:</b> Next to a bare $ref.</div>`},
		// the same type again: its paragraph is given once per table
		"userId": {"described above"},
		// allOf-wrapped: its own words (the schema's paragraph is given above already), its
		// type and constraints read through the wrapper, its difference
		"userUuid": {`<span class="type">string</span>`, "<p>The user, as older payloads name it.</p>", `<span class="tagline">non-empty</span>`,
			`<div class="difference"><b>Differs from Evotor:</b> Evotor's reference has only userId; its own examples send userUuid.</div>`},
		"password": {"<p>The password, never stored.</p>", "<b>Differs from Evotor:</b> Evotor requires 8 characters; we accept any."},
		"token":    {"<p>The user token.</p>"},
	} {
		row, ok := rows[name]
		if !ok {
			t.Errorf("no row for %s", name)
			continue
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s's row lacks %s:\n%s", name, w, row)
			}
		}
	}
	if strings.Contains(rows["userUuid"], "An Evotor id, opaque.") || strings.Contains(rows["userId"], "An Evotor id, opaque.") {
		t.Error("the EvotorId paragraph is repeated in one table")
	}

	// Alone in its table, a wrapped field shows both descriptions, its own first.
	id := &openapi3.SchemaRef{Ref: "#/components/schemas/EvotorId", Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Description: "An Evotor id."}}
	wrapper := &openapi3.Schema{AllOf: openapi3.SchemaRefs{id}, Description: "The store."}
	row := field("storeId", wrapper.NewRef(), false, 0)
	if row.Description != "<p>The store.</p>\n" || row.TypeDescription != "<p>An Evotor id.</p>\n" || row.Type != "string" {
		t.Errorf("wrapped field: %+v", row)
	}
	// A property's own description wins over an inline type's identical one: given once.
	same := &openapi3.Schema{AllOf: openapi3.SchemaRefs{id}, Description: "An Evotor id."}
	if row := field("x", same.NewRef(), false, 0); row.Description == "" || row.TypeDescription != "" {
		t.Errorf("a description equal to its type's is shown twice: %+v", row)
	}
}

// The real spec, with operation-level x-evotor-codes put in where it has none yet: every
// operation gets a table with one row per entry.
func TestRealSpecErrorTables(t *testing.T) {
	spec, err := generated.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if _, ok := op.Extensions["x-evotor-codes"]; !ok {
				var entries []any
				for status, r := range op.Responses.Map() {
					if status[0] != '4' && status[0] != '5' {
						continue
					}
					codes, _ := r.Value.Extensions["x-evotor-codes"].([]any)
					if len(codes) == 0 {
						codes = []any{status}
					}
					for _, c := range codes {
						entries = append(entries, map[string]any{"code": c, "status": status, "when": "Injected for " + op.OperationID + "."})
					}
				}
				if op.Extensions == nil {
					op.Extensions = map[string]any{}
				}
				op.Extensions["x-evotor-codes"] = entries
			}
			want[op.OperationID] = len(op.Extensions["x-evotor-codes"].([]any))
		}
	}
	html, err := Page(spec)
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for id, n := range want {
		rows := errorRows(t, section(t, page, id))
		if len(rows) != n {
			t.Errorf("%s: %d rows in its error table, want %d", id, len(rows), n)
		}
		for _, r := range rows {
			if strings.Contains(r, "–") {
				t.Errorf("%s: an incomplete row %q", id, r)
			}
		}
	}
}
