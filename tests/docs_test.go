package tests

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
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
