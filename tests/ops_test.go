package tests

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/evotor-partner/evotor-partner/generated"
)

// credentialKind says which credential an operation takes (DEVELOPERS.md's table).
type credentialKind int

const (
	appCredential credentialKind = iota
	userCredential
)

// op is one webhook operation, called through the generated client with a raw body.
type op struct {
	id   string
	kind credentialKind
	call func(c *generated.Client, storeUUID string, body []byte, edit generated.RequestEditorFn) (*http.Response, error)
	// sample is a fixture that is valid for this operation.
	sample string
}

const storeUUID = "20170222-5A12-403A-80F6-75C361356826"

// webhookOps lists all eleven operations; TestOperationTableCoversSpec keeps it complete.
var webhookOps = []op{
	{"createUser", appCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.CreateUserWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "user_create_minimal.json"},
	{"verifyUser", appCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.VerifyUserWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "user_verify.json"},
	{"storeCloudToken", appCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.StoreCloudTokenWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "user_token.json"},
	{"subscriptionEvent", appCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.SubscriptionEventWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "subscription_created.json"},
	{"installationEvent", appCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.InstallationEventWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "installation_installed.json"},
	{"createProducts", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.CreateProductsWithBody(context.Background(), store, jsonUTF8, bytes.NewReader(b), e)
	}, "products_create.json"},
	{"putDocuments", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutDocumentsWithBody(context.Background(), store, jsonUTF8, bytes.NewReader(b), e)
	}, "documents_sell.json"},
	{"putDevices", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutDevicesWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "devices.json"},
	{"putEmployees", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutEmployeesWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "employees.json"},
	{"putStores", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutStoresWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "stores.json"},
	{"postReceipts", userCredential, func(c *generated.Client, store string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PostReceiptsWithBody(context.Background(), jsonUTF8, bytes.NewReader(b), e)
	}, "receipts_v2_sell.json"},
}

func opByID(t testing.TB, id string) op {
	for _, o := range webhookOps {
		if o.id == id {
			return o
		}
	}
	t.Fatalf("no operation %q", id)
	return op{}
}

// send calls the operation (on storeUUID where it has a store) and returns status and body.
func (e *env) send(o op, body []byte, authorization string) (int, []byte) {
	e.t.Helper()
	return e.sendTo(o, storeUUID, body, authorization)
}

// sendTo is send for a given store of the path.
func (e *env) sendTo(o op, store string, body []byte, authorization string) (int, []byte) {
	e.t.Helper()
	res, err := o.call(e.client.ClientInterface.(*generated.Client), store, body, auth(authorization))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes()
}
