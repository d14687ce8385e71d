package tests

import (
	"bytes"
	"context"
	"testing"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/generated"
)

// The tests call the webhooks through the simulator's operation table (cloud.Operations),
// which sends through the generated client.

// samples are fixtures valid for each operation.
var samples = map[string]string{
	"createUser": "user_create_minimal.json", "verifyUser": "user_verify.json", "storeCloudToken": "user_token.json",
	"subscriptionEvent": "subscription_created.json", "installationEvent": "installation_installed.json",
	"createProducts": "products_create.json", "putDocuments": "documents_sell.json", "putDevices": "devices.json",
	"putEmployees": "employees.json", "putStores": "stores.json", "postReceipts": "receipts_v2_sell.json",
}

const storeUUID = "20170222-5A12-403A-80F6-75C361356826"

func opByID(t testing.TB, id string) cloud.Operation {
	o, ok := cloud.OperationByID(id)
	if !ok {
		t.Fatalf("no operation %q", id)
	}
	return o
}

// send calls the operation (on storeUUID where it has a store) and returns status and body.
func (e *env) send(o cloud.Operation, body []byte, authorization string) (int, []byte) {
	e.t.Helper()
	return e.sendTo(o, storeUUID, body, authorization)
}

// sendTo is send for a given store of the path.
func (e *env) sendTo(o cloud.Operation, store string, body []byte, authorization string) (int, []byte) {
	e.t.Helper()
	res, err := o.Do(context.Background(), e.client.ClientInterface.(*generated.Client), store, body, auth(authorization))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes()
}

// credentialFor is the Authorization an operation is sent with: the app token, or userAuth for
// the notifications that take the user token.
func credentialFor(o cloud.Operation, userAuth string) string {
	if o.Credential == cloud.UserCredential {
		return userAuth
	}
	return bearer(appToken)
}
