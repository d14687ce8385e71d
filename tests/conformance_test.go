package tests

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/evotor-partner/evotor-partner/generated"
)

// Conformance to Evotor's own reference: its Swagger 2.0 files, vendored byte for byte under
// testdata/evotor/official (from the project's reference material, ../shared/evotor/official,
// which stands beside the clone in CI only; there TestVendoredReferenceIsEvotors fails when the
// copy is stale). The tests read the copy, so a clone needs nothing beside it.

var (
	sharedOfficialDir = filepath.Join("..", "..", "shared", "evotor", "official")
	vendoredDir       = filepath.Join("testdata", "evotor", "official")
	referenceFiles    = []string{"definitions.yaml", "info.yaml", "parameters.yaml", "paths.yaml", "responses.yaml"}
)

// referenceFacts is what the conformance tests need of the reference's operations.
type referenceFacts struct {
	ErrorCodes map[int]int          // Evotor's error code → HTTP status
	Operations []referenceOperation // partner-side, /partner.ru prefix removed
}

type referenceOperation struct {
	Method                string
	Path                  string
	PathParameters        []string // in the order of the path
	RequiredRequestFields []string // "[]" stands for an array's items
	Codes                 []int    // the Evotor error codes its responses declare
	Credential            string   // "app" (serverAuth), "user" (clientAuth) or ""
}

// check refuses facts too thin to test against (a reader that found next to nothing).
func (f referenceFacts) check(t testing.TB, from string) {
	t.Helper()
	if len(f.Operations) < 11 {
		t.Fatalf("only %d partner operations in %s", len(f.Operations), from)
	}
	if len(f.ErrorCodes) < 9 {
		t.Fatalf("only %d Evotor codes in %s", len(f.ErrorCodes), from)
	}
}

func loadReferenceFacts(t testing.TB) referenceFacts { return extractReferenceFacts(t, vendoredDir) }

// parsedSpec is our spec parsed once for the test binary (each test parsing its own was a
// twelfth of the in-process suite's CPU).
var parsedSpec = sync.OnceValues(generated.GetSpec)

// ourSpec is the spec every test shares: read it, never change it (a test that changes the
// spec parses its own copy with generated.GetSpec).
func ourSpec(t testing.TB) *openapi3.T {
	spec, err := parsedSpec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestEveryPartnerPathOfTheReferenceIsServed(t *testing.T) {
	t.Parallel()
	ours := ourSpec(t)
	for _, o := range loadReferenceFacts(t).Operations {
		item := ours.Paths.Find(o.Path)
		if item == nil || item.GetOperation(o.Method) == nil {
			t.Errorf("%s %s of Evotor's reference is not in our spec", o.Method, o.Path)
			continue
		}
		var got []string
		for _, p := range item.GetOperation(o.Method).Parameters {
			if p.Value.In == "path" {
				got = append(got, p.Value.Name)
			}
		}
		if fmt.Sprint(o.PathParameters) != fmt.Sprint(got) {
			t.Errorf("%s %s: path parameters %v, reference %v", o.Method, o.Path, got, o.PathParameters)
		}
	}
}

// relaxedRequired lists, deliberately, the fields Evotor's reference marks required that our
// spec does not, with why. Anything else the reference requires, we require.
var relaxedRequired = map[string]string{
	// userId may arrive as the legacy userUuid (fixtures *_legacy_useruuid.json); the handler
	// requires one of the two and answers 2002 "userId" otherwise.
	"POST /api/v1/user/create userId": "legacy userUuid",
	"POST /api/v1/user/verify userId": "legacy userUuid",
	"POST /api/v1/user/token userId":  "legacy userUuid",
	// Groups carry no type ("the field is sent only if group = false"; products_create_group_service_minimal.json).
	"POST /api/v1/inventories/stores/{storeUuid}/products [] type": "absent on groups",
	// Real documents omit these (documents_z_report.json has no storeUuid or version; the store
	// is in the path); several are null in every pos-docs example, and null is not "present".
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] storeUuid":      "the path names the store; real documents omit it",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] version":        "absent in real documents",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] deviceUuid":     "kept when sent; not needed to store a document",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] closeDate":      "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] openDate":       "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] openUserCode":   "null in every example",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] openUserUuid":   "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] closeUserCode":  "null in every example",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] closeUserUuid":  "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] sessionUUID":    "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] sessionNumber":  "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] number":         "kept when sent",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] closeResultSum": "null in OPEN_SESSION documents",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] closeSum":       "null in OPEN_SESSION documents",
	"PUT /api/v1/inventories/stores/{storeUuid}/documents [] extras":         "kept when sent",
}

// ourRequired is requiredFields over our (resolved) spec.
func ourRequired(s *openapi3.SchemaRef, at string, out map[string]bool, depth int) {
	if s == nil || s.Value == nil || depth > 6 {
		return
	}
	for _, r := range s.Value.Required {
		out[strings.TrimSpace(at+" "+r)] = true
	}
	if s.Value.Items != nil {
		ourRequired(s.Value.Items, strings.TrimSpace(at+" []"), out, depth+1)
	}
	for name, p := range s.Value.Properties {
		ourRequired(p, strings.TrimSpace(at+" "+name), out, depth+1)
	}
	for _, alt := range append(s.Value.AnyOf, s.Value.OneOf...) {
		ourRequired(alt, at, out, depth+1)
	}
}

func TestReferenceRequiredFieldsAreRequired(t *testing.T) {
	t.Parallel()
	ours := ourSpec(t)
	used := map[string]bool{}
	for _, o := range loadReferenceFacts(t).Operations {
		if len(o.RequiredRequestFields) == 0 {
			continue
		}
		got := map[string]bool{}
		ourOp := ours.Paths.Find(o.Path).GetOperation(o.Method)
		ourRequired(ourOp.RequestBody.Value.Content.Get("application/json").Schema, "", got, 0)
		for _, field := range o.RequiredRequestFields {
			key := o.Method + " " + o.Path + " " + field
			if got[field] {
				continue
			}
			if _, ok := relaxedRequired[key]; ok {
				used[key] = true
				continue
			}
			t.Errorf("%s: the reference requires %q, our spec does not (require it, or list it in relaxedRequired with why)", o.Method+" "+o.Path, field)
		}
	}
	for key := range relaxedRequired {
		if !used[key] {
			t.Errorf("relaxedRequired lists %q, which the reference does not require (stale entry)", key)
		}
	}
}

// operationCodes is an operation's x-evotor-codes: each error it answers, with its status.
func operationCodes(t *testing.T, op *openapi3.Operation) map[int]int {
	codes := map[int]int{}
	list, _ := op.Extensions["x-evotor-codes"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		code, ok1 := m["code"].(float64)
		status, ok2 := m["status"].(float64)
		if !ok1 || !ok2 {
			t.Errorf("%s: x-evotor-codes entry %v wants a code and a status", op.OperationID, e)
			continue
		}
		codes[int(code)] = int(status)
	}
	return codes
}

// TestOurErrorCodesAreEvotors: every Evotor code an operation of ours answers has the HTTP
// status Evotor's reference gives it.
func TestOurErrorCodesAreEvotors(t *testing.T) {
	t.Parallel()
	ours := ourSpec(t)
	known := loadReferenceFacts(t).ErrorCodes
	checked := 0
	for path, item := range ours.Paths.Map() {
		for method, op := range item.Operations() {
			for code, status := range operationCodes(t, op) {
				if code < 1000 {
					continue // our own transport/admin answers (the HTTP status), not Evotor's
				}
				checked++
				if want, ok := known[code]; !ok || want != status {
					t.Errorf("%s %s answers %d with %d; Evotor's reference: %v (known: %v)", method, path, code, status, want, ok)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no x-evotor-codes found in our spec")
	}
}

// TestOperationsAreEvotors: each partner operation of Evotor's reference takes the credential
// the reference names and answers every error code the reference declares for it, with its
// status, unless the operation lists the difference (x-evotor-differences: security, code-N)
// with why. A listed difference that is no longer one fails too.
func TestOperationsAreEvotors(t *testing.T) {
	t.Parallel()
	ours := ourSpec(t)
	facts := loadReferenceFacts(t)
	schemes := map[string]string{"app": "[[appToken] [appBasic]]", "user": "[[userToken]]"}
	for _, o := range facts.Operations {
		op := ours.Paths.Find(o.Path).GetOperation(o.Method)
		listed, _ := op.Extensions["x-evotor-differences"].(map[string]any)
		found := map[string]bool{}
		differs := func(key, what string) {
			if why, _ := listed[key].(string); why != "" {
				found[key] = true
				return
			}
			t.Errorf("%s %s: %s; list it in the operation's x-evotor-differences as %q with why, or remove the difference", o.Method, o.Path, what, key)
		}
		if want := schemes[o.Credential]; want != "" && securityOf(ours, op) != want {
			differs("security", fmt.Sprintf("takes %s, the reference %s", securityOf(ours, op), want))
		}
		codes := operationCodes(t, op)
		for _, code := range o.Codes {
			if codes[code] != facts.ErrorCodes[code] {
				differs(fmt.Sprintf("code-%d", code), fmt.Sprintf("the reference declares %d (status %d), ours does not answer it", code, facts.ErrorCodes[code]))
			}
		}
		for key := range listed {
			if !found[key] {
				t.Errorf("%s %s: x-evotor-differences lists %q, which no longer differs from the reference", o.Method, o.Path, key)
			}
		}
	}
}

// securityOf is an operation's security alternatives, each its scheme names: "[[appToken] [appBasic]]".
func securityOf(spec *openapi3.T, op *openapi3.Operation) string {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var got []string
	for _, r := range reqs {
		got = append(got, fmt.Sprint(slices.Sorted(maps.Keys(r))))
	}
	return "[" + strings.Join(got, " ") + "]"
}

// TestSecurityIsDevelopersTable: which credential each operation takes, as DEVELOPERS.md's
// table says, read from the embedded spec: a spec edit that moves an operation to the wrong
// scheme fails here.
func TestSecurityIsDevelopersTable(t *testing.T) {
	t.Parallel()
	app, user, admin, none := "[[appToken] [appBasic]]", "[[userToken]]", "[[adminToken]]", "[]"
	want := map[string]string{
		"POST /api/v1/user/create": app, "POST /api/v1/user/verify": app, "POST /api/v1/user/token": app,
		"POST /api/v1/subscription/event": app, "POST /api/v2/installation/event": app,
		"POST /api/v1/inventories/stores/{storeUuid}/products": user, "PUT /api/v1/inventories/stores/{storeUuid}/documents": user,
		"PUT /api/v1/inventories/devices": user, "PUT /api/v1/inventories/employees": user, "PUT /api/v1/inventories/stores": user,
		"POST /api/v2/receipts": user, "GET /api/v1/commodities": user,
		"POST /admin/v1/accounts": admin, "GET /admin/v1/users": admin, "GET /admin/v1/users/{userId}": admin, "GET /admin/v1/users/{userId}/stores": admin,
		"POST /admin/v1/users/{userId}/sync": admin, "GET /admin/v1/users/{userId}/sync": admin,
		"GET /admin/v1/users/{userId}/devices": admin, "GET /admin/v1/users/{userId}/employees": admin,
		"GET /admin/v1/users/{userId}/stores/{storeUuid}/products": admin, "GET /admin/v1/users/{userId}/stores/{storeUuid}/documents": admin,
		"GET /admin/v1/users/{userId}/receipts": admin, "GET /admin/v1/users/{userId}/events": admin,
		"GET /admin/v1/users/{userId}/events/{eventId}": admin,
		"GET /admin/v1/forwarding/messages":             admin, "POST /admin/v1/forwarding/messages/{messageId}/resend": admin,
		"POST /admin/v1/forwarding/resend-dead": admin, "GET /admin/v1/forwarding/stats": admin,
		"GET /healthz": none, "GET /readyz": none, "GET /openapi.yaml": none, "GET /docs": none,
	}
	spec := ourSpec(t)
	seen := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if gotS := securityOf(spec, op); want[key] != gotS {
				t.Errorf("%s takes %s; the table says %q", key, gotS, want[key])
			}
			seen++
		}
	}
	if seen != len(want) {
		t.Errorf("the spec has %d operations, the table %d", seen, len(want))
	}
}

// TestVendoredReferenceIsEvotors: the vendored copy is the reference material byte for byte.
// Where the material is absent (a user's clone) there is nothing to compare with, so it logs that
// and passes; in CI (CI=true), which always has it beside the clone, its absence is a failure.
func TestVendoredReferenceIsEvotors(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(sharedOfficialDir); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("CI must have Evotor's reference beside the clone: %v", err)
		}
		t.Logf("%s absent: the vendored copy is not compared with it here (CI compares it)", sharedOfficialDir)
		return
	}
	for _, name := range referenceFiles {
		want, err := os.ReadFile(filepath.Join(sharedOfficialDir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(vendoredDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (%v): copy it again, review the diff and commit it", filepath.Join(vendoredDir, name), sharedOfficialDir, err)
		}
	}
}

// extractReferenceFacts reads Evotor's reference: its partner-side operations (paths under
// /partner.ru/), with their path parameters and the required fields of their request body, and
// its error codes with their HTTP statuses.
func extractReferenceFacts(t testing.TB, dir string) referenceFacts {
	ref := &swagger{t: t, dir: dir, files: map[string]any{}}
	facts := referenceFacts{ErrorCodes: ref.errorCodes()}
	for path, item := range ref.file("paths.yaml").(map[string]any) {
		if !strings.HasPrefix(path, "/partner.ru/") {
			continue
		}
		for method, op := range item.(map[string]any) {
			if op, ok := op.(map[string]any); ok {
				facts.Operations = append(facts.Operations, ref.operation(strings.TrimPrefix(path, "/partner.ru"), method, op))
			}
		}
	}
	sort.Slice(facts.Operations, func(i, j int) bool {
		a, b := facts.Operations[i], facts.Operations[j]
		return a.Path < b.Path || a.Path == b.Path && a.Method < b.Method
	})
	facts.check(t, dir)
	return facts
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func (s *swagger) operation(path, method string, op map[string]any) referenceOperation {
	o := referenceOperation{Method: strings.ToUpper(method), Path: path, PathParameters: []string{}}
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		o.PathParameters = append(o.PathParameters, m[1])
	}
	required := map[string]bool{}
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		param, file := s.resolve(p, "paths.yaml")
		if pm, ok := param.(map[string]any); ok && pm["in"] == "body" && pm["schema"] != nil {
			s.requiredFields(pm["schema"], file, "", required, 0)
		}
		switch ref, _ := p.(map[string]any)["$ref"].(string); {
		case strings.HasSuffix(ref, "#/serverAuth"):
			o.Credential = "app"
		case strings.HasSuffix(ref, "#/clientAuth"):
			o.Credential = "user"
		}
	}
	o.RequiredRequestFields = append([]string{}, slices.Sorted(maps.Keys(required))...) // [] rather than null
	responses, _ := op["responses"].(map[string]any)
	for _, r := range responses {
		o.Codes = append(o.Codes, s.responseCodes(r)...)
	}
	slices.Sort(o.Codes)
	o.Codes = slices.Compact(o.Codes)
	return o
}

// responseCodes are the Evotor codes a response of the reference declares: the 4-digit codes
// of its responses.yaml key (40110021003: 401 with 1002 and 1003).
func (s *swagger) responseCodes(r any) []int {
	m, _ := r.(map[string]any)
	ref, _ := m["$ref"].(string)
	_, key, ok := strings.Cut(ref, "#/")
	if !ok || len(key) < 7 {
		return nil
	}
	var codes []int
	for rest := key[3:]; len(rest) >= 4; rest = rest[4:] {
		c, _ := strconv.Atoi(rest[:4])
		codes = append(codes, c)
	}
	return codes
}

// swagger reads the reference as plain YAML: it is split over files with $refs between them and
// has constructs kin-openapi's openapi2 types refuse (`type: enum`, a `-code` list item). Its
// flaws are tolerated here; the files are never edited.
type swagger struct {
	t     testing.TB
	dir   string
	files map[string]any
}

func (s *swagger) file(name string) any {
	if f, ok := s.files[name]; ok {
		return f
	}
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	v = stringKeys(v)
	s.files[name] = v
	return v
}

// stringKeys turns YAML maps with non-string keys (responses.yaml's 402:) into map[string]any.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, y := range x {
			m[fmt.Sprint(k)] = stringKeys(y)
		}
		return m
	case map[string]any:
		for k, y := range x {
			x[k] = stringKeys(y)
		}
		return x
	case []any:
		for i, y := range x {
			x[i] = stringKeys(y)
		}
		return x
	}
	return v
}

// resolve follows $ref (file#/pointer, #/pointer relative to the current file) until a value
// without one; keys beside a $ref override the referenced ones. It returns the value and the
// file it lives in.
func (s *swagger) resolve(v any, file string) (any, string) {
	for i := 0; i < 20; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v, file
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, file
		}
		target, pointer, _ := strings.Cut(ref, "#")
		if target != "" {
			file = strings.TrimPrefix(target, "./")
		}
		resolved := s.file(file)
		for _, part := range strings.Split(strings.Trim(pointer, "/"), "/") {
			if part != "" {
				resolved = resolved.(map[string]any)[part]
			}
		}
		merged := map[string]any{}
		if rm, ok := resolved.(map[string]any); ok {
			for k, x := range rm {
				merged[k] = x
			}
		} else {
			return resolved, file
		}
		for k, x := range m {
			if k != "$ref" {
				merged[k] = x
			}
		}
		v = merged
	}
	s.t.Fatal("$ref chain too long")
	return nil, ""
}

// requiredFields adds "path field" for every required field of a schema (in file), recursing
// into properties and array items ("[]" stands for an array's items).
func (s *swagger) requiredFields(schema any, file, at string, out map[string]bool, depth int) {
	resolved, file := s.resolve(schema, file)
	m, ok := resolved.(map[string]any)
	if !ok || depth > 6 {
		return
	}
	if req, ok := m["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok {
				out[strings.TrimSpace(at+" "+name)] = true
			}
		}
	}
	if items, ok := m["items"]; ok {
		s.requiredFields(items, file, strings.TrimSpace(at+" []"), out, depth+1)
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			s.requiredFields(p, file, strings.TrimSpace(at+" "+name), out, depth+1)
		}
	}
}

// errorCodes reads the reference's error codes and their HTTP status from responses.yaml: keys
// such as 40110021003 are a status followed by 4-digit codes; other codes appear as the example
// of a `code` field. A code under two statuses is refused, so the result does not depend on
// the order the file is read in.
func (s *swagger) errorCodes() map[int]int {
	codes := map[int]int{}
	add := func(code, status int) {
		if prev, ok := codes[code]; ok && prev != status {
			s.t.Fatalf("responses.yaml gives code %d statuses %d and %d", code, prev, status)
		}
		codes[code] = status
	}
	for key, resp := range s.file("responses.yaml").(map[string]any) {
		status, err := strconv.Atoi(key[:3])
		if err != nil {
			continue
		}
		for rest := key[3:]; len(rest) >= 4; rest = rest[4:] {
			c, _ := strconv.Atoi(rest[:4])
			add(c, status)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if c, ok := x["code"].(map[string]any); ok {
					if ex, ok := c["example"].(int); ok {
						add(ex, status)
					}
				}
				for _, y := range x {
					walk(y)
				}
			case []any:
				for _, y := range x {
					walk(y)
				}
			}
		}
		walk(resp)
	}
	return codes
}
