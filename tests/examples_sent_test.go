package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// requestExample is one request-body example of a webhook, as the spec (and so /docs) shows it.
type requestExample struct {
	op    cloud.Operation
	name  string // the key in the request body's examples
	store string // the path's store: the storeUuid parameter's example, where there is one
	body  []byte
}

// webhookRequestExamples lists the request-body examples of every webhook of the spec, in a
// stable order, each body the example's value as JSON.
func webhookRequestExamples(t *testing.T) []requestExample {
	t.Helper()
	var out []requestExample
	for path, item := range ourSpec(t).Paths.Map() {
		for method, op := range item.Operations() {
			o, ok := cloud.OperationByID(op.OperationID) // the embedded spec capitalises ids
			if !ok || op.RequestBody == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			if mt == nil {
				t.Fatalf("%s %s: no application/json request body", method, path)
			}
			store := storeUUID
			for _, p := range op.Parameters {
				if p.Value.In == "path" && p.Value.Name == "storeUuid" && p.Value.Example != nil {
					store = fmt.Sprint(p.Value.Example)
				}
			}
			for name, ex := range mt.Examples {
				body, err := json.Marshal(ex.Value.Value)
				if err != nil {
					t.Fatalf("%s example %s: %v", o.ID, name, err)
				}
				out = append(out, requestExample{op: o, name: name, store: store, body: body})
			}
		}
	}
	slices.SortFunc(out, func(a, b requestExample) int {
		return strings.Compare(a.op.ID+"/"+a.name, b.op.ID+"/"+b.name)
	})
	return out
}

// TestEveryRequestExampleIsAccepted sends each request example of the webhooks to its
// endpoint, each on a fresh database (so no example depends on another, and no store is
// claimed by two users), with the credential the operation takes, and requires 200 — and, for
// events and notifications, the body stored in the inbox byte for byte. A user-token
// notification is sent by a user created first, on the store of the path parameter's example;
// user/verify's example logs in to the account its sample names.
func TestEveryRequestExampleIsAccepted(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	examples := webhookRequestExamples(t)
	if len(examples) < 38 { // as many as the spec had when this test was written
		t.Fatalf("only %d request examples", len(examples))
	}
	// Every subscription event type Evotor documents is shown.
	var shown []string
	for _, x := range examples {
		if x.op.ID == "subscriptionEvent" {
			var ev struct{ Type string }
			_ = json.Unmarshal(x.body, &ev)
			shown = append(shown, ev.Type)
		}
	}
	for _, want := range []string{"SubscriptionCreated", "SubscriptionActivated", "SubscriptionRenewed",
		"SubscriptionTermsChanged", "AddonsUpdated", "SubscriptionTerminationRequested", "SubscriptionTerminated"} {
		if !slices.Contains(shown, want) {
			t.Errorf("no subscriptionEvent example of type %s", want)
		}
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, x := range examples {
			t.Run(x.op.ID+"/"+x.name, func(t *testing.T) {
				t.Parallel() // each on a database of its own
				e := newEnv(t, b)
				e.addAccount("test4", "password", false) // the account of the UserVerify example
				credential := credentialFor(x.op, "")
				if x.op.Credential == cloud.UserCredential {
					credential = bearer(e.createUser("01-000000000000001"))
				}
				status, resp := e.sendTo(x.op, x.store, x.body, credential)
				if status != 200 {
					t.Fatalf("%s example %s: status %d, body %s\nsent %s", x.op.ID, x.name, status, resp, x.body)
				}
				if x.op.Credential != cloud.UserCredential && x.op.ID != "subscriptionEvent" && x.op.ID != "installationEvent" {
					return // user/create, user/verify, user/token answer; they store no delivery
				}
				var got storage.InboxEntry
				if err := e.db.Order("id desc").Take(&got).Error; err != nil {
					t.Fatal(err)
				}
				if got.Operation != x.op.ID || !bytes.Equal(got.Body, x.body) {
					t.Fatalf("inbox holds %q with %d bytes, want %q with the %d bytes sent", got.Operation, len(got.Body), x.op.ID, len(x.body))
				}
			})
		}
	})
}
