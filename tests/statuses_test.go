package tests

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/security"
	"github.com/evotor-partner/evotor-partner/tests/gobuild"
)

// Every status the server answers must be one its spec declares for that operation: Evotor and
// the partner's developers read the spec, not the code.

// answered records, for the whole test run, every (operation, status) the in-process API
// answered; TestMain checks them against the spec once every test has run.
var answered = struct {
	sync.Mutex
	seen map[string]map[int]bool
}{seen: map[string]map[int]bool{}}

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	spec, err := generated.GetSpec()
	if err != nil {
		return nil, err
	}
	spec.Servers = nil
	return legacy.NewRouter(spec)
})

// recordAnswer notes the status a request to a spec operation got.
func recordAnswer(req *http.Request, status int) {
	router, err := specRouter()
	if err != nil {
		return
	}
	route, _, err := router.FindRoute(req)
	if err != nil {
		return // not an operation of the spec (404/405 probes)
	}
	answered.Lock()
	defer answered.Unlock()
	id := route.Operation.OperationID
	if answered.seen[id] == nil {
		answered.seen[id] = map[int]bool{}
	}
	answered.seen[id][status] = true
}

// undeclaredAnswers lists the recorded statuses the spec does not declare.
func undeclaredAnswers() []string {
	spec, err := parsedSpec()
	if err != nil {
		return []string{err.Error()}
	}
	declared := map[string]*openapi3.Operation{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			declared[op.OperationID] = op
		}
	}
	answered.Lock()
	defer answered.Unlock()
	var out []string
	for id, statuses := range answered.seen {
		for status := range statuses {
			if declared[id].Responses.Status(status) == nil {
				out = append(out, fmt.Sprintf("%s answered %d", id, status))
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestMain(m *testing.M) {
	// Most parallel tests here wait (on retries, on the forwarding's pace, on their databases)
	// more than they compute: four at a time on a two-CPU machine, unless -parallel says.
	flag.Parse()
	if !flagSet("test.parallel") {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	gobuild.Cleanup()
	if code == 0 {
		if missing := undeclaredAnswers(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: statuses answered in the tests but not declared in openapi/openapi.yaml:\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// flagSet reports whether the command line set the flag.
func flagSet(name string) (set bool) {
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// TestEveryMappedStatusIsDeclared: for each operation, every status the error mapper can give
// it is declared on it: 401 where it takes a credential, 400/413/415 where it takes a body,
// 400 where it takes parameters, 503 wherever it reads the database — and each domain outcome
// its handler returns (recorded across the whole run, checked in TestMain).
func TestEveryMappedStatusIsDeclared(t *testing.T) {
	t.Parallel()
	spec := ourSpec(t)
	noDatabase := map[string]bool{"healthz": true, "getspec": true, "getdocs": true, "readyz": true}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			var kinds []apperr.Kind
			if op.Security != nil && len(*op.Security) > 0 {
				kinds = append(kinds, apperr.BadAppCredential)
			}
			if op.RequestBody != nil {
				kinds = append(kinds, apperr.Malformed, apperr.TooLarge, apperr.UnsupportedMediaType)
			}
			if len(op.Parameters) > 0 {
				kinds = append(kinds, apperr.Incorrect)
			}
			if !noDatabase[strings.ToLower(op.OperationID)] {
				kinds = append(kinds, apperr.Unavailable)
			}
			for _, k := range kinds {
				if status := security.Status(k); op.Responses.Status(status) == nil {
					t.Errorf("%s %s (%s) can answer %d (%s) but does not declare it", method, path, op.OperationID, status, k)
				}
			}
		}
	}
	for _, k := range apperr.Kinds() {
		if security.Status(k) == 0 {
			t.Errorf("kind %s has no status in the mapper", k)
		}
	}
}
