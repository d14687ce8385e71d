package tests

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// fixtureOperation maps a file of testdata/evotor/requests to its endpoint by its name (the
// simulator's mapping, so `evotor-cloud replay` and this test agree).
func fixtureOperation(t *testing.T, name string) cloud.Operation {
	o, ok := cloud.OperationForFile(name)
	if !ok {
		t.Fatalf("fixture %s maps to no endpoint: add it to cloud.OperationForFile", name)
	}
	return o
}

// TestEveryEvotorFixtureIsAccepted sends every real payload to its endpoint with the right
// credential, each on a fresh database holding the accounts the verify fixtures log in to, and
// requires 200 — and, for events and notifications, the body stored byte for byte.
func TestEveryEvotorFixtureIsAccepted(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	names, _ := readFixtureNames(t)
	eachBackend(t, func(t *testing.T, b backend) {
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				t.Parallel() // each on a database of its own
				e := newEnv(t, b)
				e.addAccount("test4", "password", false)
				e.addAccount("И.Иванов", "superpassword", true)
				o := fixtureOperation(t, name)
				credential := bearer(appToken)
				if o.Credential == cloud.UserCredential {
					credential = bearer(e.createUser("01-000000000000001"))
				}
				body := fixture(t, name)
				status, resp := e.send(o, body, credential)
				if status != 200 {
					t.Fatalf("%s → %s: status %d, body %s", name, o.ID, status, resp)
				}
				if strings.HasPrefix(o.ID, "create") || strings.HasPrefix(o.ID, "verify") || o.ID == "storeCloudToken" {
					return
				}
				var got storage.InboxEntry
				if err := e.db.Order("id desc").Take(&got).Error; err != nil {
					t.Fatal(err)
				}
				if got.Operation != o.ID || !bytes.Equal(got.Body, body) {
					t.Fatalf("inbox holds %q with %d bytes, want %q with the %d bytes sent", got.Operation, len(got.Body), o.ID, len(body))
				}
			})
		}
	})
}

// readFixtureNames lists Evotor's request files (*.json); there are at least 40.
func readFixtureNames(t *testing.T) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(fixturesDir, "*.json"))
	if err != nil || len(paths) < 40 {
		t.Fatalf("fixtures in %s: %d, %v", fixturesDir, len(paths), err)
	}
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths, nil
}

// TestOperationTableCoversSpec keeps the tests' operation table equal to the spec's webhooks.
func TestOperationTableCoversSpec(t *testing.T) {
	t.Parallel()
	spec := ourSpec(t)
	secured := map[string]bool{} // the webhooks Evotor Cloud sends with a body
	for _, item := range spec.Paths.Map() {
		for _, operation := range item.Operations() {
			if operation.RequestBody != nil && !slices.Contains(operation.Tags, "admin") {
				secured[strings.ToLower(operation.OperationID)] = true // the embedded spec capitalises ids
			}
		}
	}
	for _, o := range cloud.Operations {
		if !secured[strings.ToLower(o.ID)] {
			t.Errorf("tests name %s, which is not a webhook of the spec", o.ID)
		}
		delete(secured, strings.ToLower(o.ID))
	}
	for id := range secured {
		t.Errorf("spec operation %s is missing from cloud.Operations", id)
	}
}
