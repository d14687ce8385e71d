package tests

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/security"
)

func TestServerServesItsContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	spec, err := e.client.GetSpecWithResponse(context.Background())
	if err != nil || spec.StatusCode() != 200 || !strings.HasPrefix(spec.HTTPResponse.Header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("/openapi.yaml: %v %d", err, spec.StatusCode())
	}
	written, err := os.ReadFile(filepath.Join("..", "openapi", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(spec.Body, written) {
		t.Fatalf("/openapi.yaml is not openapi/openapi.yaml as written (%d bytes served, %d in the file)", len(spec.Body), len(written))
	}
	served, err := openapi3.NewLoader().LoadFromData(spec.Body)
	if err != nil {
		t.Fatalf("the served spec does not load: %v", err)
	}
	if err := served.Validate(context.Background()); err != nil {
		t.Fatalf("the served spec is invalid: %v", err)
	}
}

// TestReferencePage reads /docs as a partner would: a table of contents linking every
// operation with its credential, nested field tables, examples, the exact error bodies.
func TestReferencePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0], withAdmin)
	docs, err := e.client.GetDocsWithResponse(context.Background())
	if err != nil || docs.StatusCode() != 200 || !strings.HasPrefix(docs.HTTPResponse.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %v %d", err, docs.StatusCode())
	}
	page := string(docs.Body)
	if regexp.MustCompile(`(?i)<script|src=|href="https?:|@import|url\(`).MatchString(page) {
		t.Fatal("the reference page loads scripts or external resources")
	}
	toc, _, found := strings.Cut(page, "</nav>")
	if !found {
		t.Fatal("the reference page has no table of contents")
	}
	for path, item := range ourSpec(t).Paths.Map() {
		for method, op := range item.Operations() {
			section := sectionOf(t, page, op.OperationID)
			if !strings.Contains(section, ">"+method+"<") || !strings.Contains(section, path) {
				t.Errorf("%s: method or path missing", op.OperationID)
			}
			if !strings.Contains(toc, `href="#`+op.OperationID+`"`) {
				t.Errorf("%s: not in the table of contents", op.OperationID)
			}
			if !strings.Contains(section, `class="example request"`) || !strings.Contains(section, `class="example response"`) {
				t.Errorf("%s: no example request or response", op.OperationID)
			}
		}
	}
	if strings.Contains(withoutCode(page), "`") {
		t.Error("Markdown backticks reach the page unrendered")
	}
	checkErrorTables(t, page)

	verify := sectionText(t, page, "VerifyUser") // the embedded spec carries Go-cased operationIds
	for _, want := range []string{
		"appToken HTTP bearer The app token typed into Evotor's developer portal", "appBasic HTTP basic",
		"password string required", // a field of the request body
		`"username":"test4"`,       // the example request, from Evotor's sample
		"HTTP/1.1 401 Unauthorized", `"code":1006`, `{"errors":[{"code":2004,"reason":"already linked","subject":"userId"}]}`,
	} {
		if !strings.Contains(verify, want) {
			t.Errorf("verifyUser's section lacks %q", want)
		}
	}
	commodity := sectionText(t, page, "FindCommodity")
	if !strings.Contains(commodity, "Credential: userToken") || strings.Contains(commodity, "appToken") {
		t.Error("findCommodity is not documented with the user token it takes")
	}
	if !strings.Contains(commodity, "GET /api/v1/commodities?scanCode=2000000000060 HTTP/1.1 Authorization: Bearer <userToken>") {
		t.Errorf("findCommodity's example request is not the wire request:\n%s", commodity)
	}
	admin := sectionText(t, page, "AdminGetUser")
	if strings.Contains(admin, "1001") {
		t.Error("the admin API's 401 is documented with Evotor's app-credential code")
	}
	// The error bodies shown are the server's, byte for byte.
	verifyOp := opByID(t, "verifyUser")
	_, wrongApp := e.send(verifyOp, []byte(`{}`), bearer(otherAppToken+"0"))
	_, malformed := e.send(verifyOp, []byte(`{`), bearer(appToken))
	_, wrongPassword := e.send(verifyOp, []byte(`{"userId":"01-000000000000001","username":"nobody","password":"x"}`), bearer(appToken))
	wrongAdmin, err := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000001", auth(bearer("not the admin token")))
	if err != nil {
		t.Fatal(err)
	}
	unknownUser, err := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000099", auth(bearer(adminToken)))
	if err != nil {
		t.Fatal(err)
	}
	for section, answers := range map[string][][]byte{
		"VerifyUser":   {wrongApp, malformed, wrongPassword},
		"AdminGetUser": {wrongAdmin.Body, unknownUser.Body},
	} {
		for _, answer := range answers {
			if !strings.Contains(sectionText(t, page, section), strings.TrimSpace(string(answer))) {
				t.Errorf("the server answers %s, which %s's section does not show", answer, section)
			}
		}
	}
	receipts := sectionText(t, page, "PostReceipts")
	for _, want := range []string{"one of: Receipt | array of Receipt", "option 2 array of Receipt fields as in option 1", "sumPrice any of: number (double) | string", "nullable", "HTTP/1.1 402 Payment Required", `"code": 1004`} {
		if !strings.Contains(receipts, want) {
			t.Errorf("postReceipts' section lacks %q", want)
		}
	}
	if !regexp.MustCompile(`<tr class="d3 nested"><td class="name">sumPrice</td>`).MatchString(sectionOf(t, page, "PostReceipts")) {
		t.Error("a receipt item's fields are not nested under data.items")
	}
}

// checkErrorTables: every operation that declares operation-level x-evotor-codes has an error
// table with one row per entry (its status and code, and words for when), and no other
// operation has one. It holds before the spec declares any (then no table at all) and after.
func checkErrorTables(t *testing.T, page string) {
	t.Helper()
	declaring, tables := 0, 0
	for _, item := range ourSpec(t).Paths.Map() {
		for _, op := range item.Operations() {
			section := sectionOf(t, page, op.OperationID)
			rows := errorTableRows(section)
			if strings.Contains(section, `<table class="errors">`) {
				tables++
			}
			entries, _ := op.Extensions["x-evotor-codes"].([]any)
			if len(entries) == 0 {
				if len(rows) > 0 {
					t.Errorf("%s: an error table of %d rows, but the operation declares no x-evotor-codes", op.OperationID, len(rows))
				}
				continue
			}
			declaring++
			var want, got []string
			for _, e := range entries {
				m, _ := e.(map[string]any)
				want = append(want, fmt.Sprintf("%v|%v", m["status"], m["code"]))
			}
			for _, r := range rows {
				got = append(got, r[0]+"|"+r[1])
				if r[2] == "" {
					t.Errorf("%s: the error row %s|%s says nothing of when", op.OperationID, r[0], r[1])
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: error table rows (status|code) %v, want one per x-evotor-codes entry %v", op.OperationID, got, want)
			}
		}
	}
	if tables != declaring {
		t.Errorf("%d operations have an error table, %d declare x-evotor-codes", tables, declaring)
	}
	t.Logf("%d operations declare x-evotor-codes at operation level; %d error tables on /docs", declaring, tables)
}

// errorTableRows are the rows of a section's error table: status, code, when (as text).
func errorTableRows(section string) [][3]string {
	_, table, found := strings.Cut(section, `<table class="errors">`)
	if !found {
		return nil
	}
	table, _, _ = strings.Cut(table, "</table>")
	var rows [][3]string
	for _, tr := range regexp.MustCompile(`(?s)<tr class="error">(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
		var row [3]string
		for i, td := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(tr[1], 3) {
			row[i] = strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(td[1], "")))
		}
		rows = append(rows, row)
	}
	return rows
}

// sectionText is an operation's section as a reader sees it: tags gone, entities decoded,
// every run of white space one space.
func sectionText(t *testing.T, page, id string) string {
	t.Helper()
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(sectionOf(t, page, id), " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// withoutCode drops <pre> blocks, where backticks may legitimately appear.
func withoutCode(page string) string {
	return regexp.MustCompile(`(?s)<pre>.*?</pre>`).ReplaceAllString(page, "")
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
	t.Parallel()
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
