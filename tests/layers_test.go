package tests

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The layers, read from the imports: dependencies point one way, downward. Each package of the
// module names the packages of the module it may import; an import outside its list, or a
// package missing from the table, fails. Storage imports neither security nor echo (nor
// kin-openapi or fastjson, which come with them).

const module = "github.com/evotor-partner/evotor-partner/"

// lowPackages are beneath everything: outcomes, Evotor's formats, the user token, sealing,
// the pure domain rules.
var lowPackages = []string{"impl/apperr", "impl/evotor", "impl/usertoken", "impl/sealer", "impl/billing", "impl/installation"}

var layers = map[string][]string{
	"openapi":                  nil, // the contract, embedded
	"generated":                nil,
	"generated/evotorrest":     nil,                                     // Evotor's REST API contract, generated
	"impl/evotorapi":           {"generated/evotorrest", "impl/evotor"}, // the client of Evotor's REST API
	"impl/apperr":              nil,
	"impl/evotor":              nil,
	"impl/billing":             nil,
	"impl/installation":        nil,
	"impl/logging":             nil,
	"impl/sealer":              nil,
	"impl/usertoken":           {"impl/apperr"},
	"impl/docs":                nil, // renders any spec it is given
	"security/webhook":         nil,
	"security":                 append([]string{"generated"}, lowPackages...),
	"impl/storage":             lowPackages,
	"impl/storage/storagetest": {"impl/storage"},
	"impl/forward":             append([]string{"impl/storage", "security/webhook"}, lowPackages...),
	"impl/metrics":             append([]string{"impl/storage"}, lowPackages...),
	"impl/deliver":             append([]string{"impl/storage"}, lowPackages...),                                   // the application layer: no HTTP, no security
	"impl/reconcile":           append([]string{"impl/deliver", "impl/storage", "impl/evotorapi"}, lowPackages...), // calls Evotor back; its rows are the webhooks' (impl.WebhookRows)
	"impl": append([]string{"generated", "openapi", "security", "impl/deliver", "impl/reconcile", "impl/storage", "impl/forward", "impl/metrics",
		"impl/logging", "impl/docs"}, lowPackages...),
}

// forbiddenBelowHTTP are libraries of the HTTP edge that storage and the low packages never import.
var forbiddenBelowHTTP = []string{"github.com/labstack/echo", "github.com/getkin/kin-openapi", "github.com/valyala/fastjson"}

func TestImportsPointDownward(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasPrefix(pkg, "cmd/") || pkg == "tests" || strings.HasPrefix(pkg, "tests/") {
			continue // the wiring and the proof may import anything
		}
		allowed, known := layers[pkg]
		if !known {
			t.Errorf("%s is not in the layers table (tests/layers_test.go): say what it may import", pkg)
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if dep, ours := strings.CutPrefix(imp, module); ours && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which its layer may not (allowed: %v)", pkg, dep, allowed)
			}
			if pkg == "impl/storage" || slices.Contains(lowPackages, pkg) {
				for _, f := range forbiddenBelowHTTP {
					if strings.HasPrefix(imp, f) {
						t.Errorf("%s imports %s: the HTTP edge's libraries stay above storage", pkg, imp)
					}
				}
			}
		}
	}
	if checked < len(layers)-1 {
		t.Fatalf("only %d packages checked", checked)
	}
}
