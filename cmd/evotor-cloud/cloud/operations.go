// Package cloud plays Evotor Cloud against a partner server: it knows the webhooks, sends them
// through the generated client with the credential each takes, and re-sends like the Cloud.
package cloud

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/evotor-partner/evotor-partner/generated"
)

// Credential is what an operation is authorised with (the table in DEVELOPERS.md).
type Credential int

const (
	AppCredential  Credential = iota // the app token or Basic login typed into Evotor's portal
	UserCredential                   // the user token the partner returned from user/create or user/verify
)

// Operation is one webhook Evotor Cloud sends.
type Operation struct {
	ID         string
	Credential Credential
	send       func(ctx context.Context, c *generated.Client, storeUUID string, body []byte, ed generated.RequestEditorFn) (*http.Response, error)
}

const jsonUTF8 = "application/json;charset=UTF-8"

func r(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// Operations lists every webhook, in the order of Evotor's documentation.
var Operations = []Operation{
	{"createUser", AppCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.CreateUserWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"verifyUser", AppCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.VerifyUserWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"storeCloudToken", AppCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.StoreCloudTokenWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"subscriptionEvent", AppCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.SubscriptionEventWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"installationEvent", AppCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.InstallationEventWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"createProducts", UserCredential, func(ctx context.Context, c *generated.Client, s string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.CreateProductsWithBody(ctx, s, jsonUTF8, r(b), e)
	}},
	{"putDocuments", UserCredential, func(ctx context.Context, c *generated.Client, s string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutDocumentsWithBody(ctx, s, jsonUTF8, r(b), e)
	}},
	{"putDevices", UserCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutDevicesWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"putEmployees", UserCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutEmployeesWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"putStores", UserCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PutStoresWithBody(ctx, jsonUTF8, r(b), e)
	}},
	{"postReceipts", UserCredential, func(ctx context.Context, c *generated.Client, _ string, b []byte, e generated.RequestEditorFn) (*http.Response, error) {
		return c.PostReceiptsWithBody(ctx, jsonUTF8, r(b), e)
	}},
}

// Do sends body to the operation through the generated client (one attempt, no re-send).
func (o Operation) Do(ctx context.Context, c *generated.Client, storeUUID string, body []byte, ed generated.RequestEditorFn) (*http.Response, error) {
	return o.send(ctx, c, storeUUID, body, ed)
}

// OperationByID finds an operation by its operationId.
func OperationByID(id string) (Operation, bool) {
	for _, o := range Operations {
		if strings.EqualFold(o.ID, id) {
			return o, true
		}
	}
	return Operation{}, false
}

// filePrefixes map request files (as in tests/testdata/evotor/requests) to their endpoint by name.
var filePrefixes = []struct{ prefix, op string }{
	{"user_create", "createUser"},
	{"user_verify", "verifyUser"},
	{"user_token", "storeCloudToken"},
	{"subscription_", "subscriptionEvent"},
	{"addons_", "subscriptionEvent"},
	{"installation_", "installationEvent"},
	{"products_", "createProducts"},
	{"documents_", "putDocuments"},
	{"devices", "putDevices"},
	{"employees", "putEmployees"},
	{"stores", "putStores"},
	{"receipts_v2", "postReceipts"},
}

// OperationForFile picks the endpoint of a request file from its name.
func OperationForFile(name string) (Operation, bool) {
	for _, p := range filePrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return OperationByID(p.op)
		}
	}
	return Operation{}, false
}
