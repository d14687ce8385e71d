package tests

import (
	"bytes"
	"fmt"
	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"testing"

	"github.com/evotor-partner/evotor-partner/security"
)

// TestEveryOperationEnforcesItsCredential: for all eleven operations, no credential, a wrong
// one and the other kind's are refused with the operation's code, and every accepted form
// passes. All refusals of one code are byte-identical.
func TestEveryOperationEnforcesItsCredential(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.addAccount("test4", "password", false)
		userToken := e.createUser("01-000000000000001")
		refusals := map[int][]byte{}
		for _, o := range cloud.Operations {
			t.Run(o.ID, func(t *testing.T) {
				body := fixture(t, samples[o.ID])
				wantCode, other := security.CodeBadAppCredential, bearer(userToken)
				accepted := []string{bearer(appToken), "bearer " + appToken, "BEARER " + otherAppToken, basic(appBasicUser, appBasicPass)}
				refused := []string{"", "Bearer 00000000-0000-4000-8000-000000000000", basic(appBasicUser, "wrong"),
					basic("someone", appBasicPass), appToken /* no scheme: only user tokens may be bare */, "Token " + appToken}
				if o.Credential == cloud.UserCredential {
					wantCode, other = security.CodeBadUserToken, bearer(appToken)
					accepted = []string{bearer(userToken), "bearer " + userToken, userToken}
					refused = []string{"", "Bearer not-a-token-we-issued", basic(appBasicUser, appBasicPass), "Basic " + userToken}
				}
				for _, h := range append(refused, other) {
					status, resp := e.send(o, body, h)
					expectError(t, status, resp, 401, wantCode, "")
					if prev, ok := refusals[wantCode]; ok && !bytes.Equal(prev, resp) {
						t.Fatalf("401 bodies differ: %s vs %s", prev, resp)
					}
					refusals[wantCode] = resp
				}
				for _, h := range accepted {
					if status, resp := e.send(o, body, h); status != 200 {
						t.Fatalf("credential form %q refused: %d %s", redact(h), status, resp)
					}
				}
			})
		}
	})
}

// redact keeps test failure output free of whole credentials.
func redact(h string) string {
	if len(h) > 10 {
		return h[:10] + "…"
	}
	return h
}

// TestRefusedRequestsStoreNothing: a refused credential leaves no trace in the inbox.
func TestRefusedRequestsStoreNothing(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for _, o := range cloud.Operations {
			if status, _ := e.send(o, fixture(t, samples[o.ID]), "Bearer nope"); status != 401 {
				t.Fatalf("%s: status %d", o.ID, status)
			}
		}
		if n := e.inboxCount(); n != 0 {
			t.Fatalf("%d inbox rows after refused requests", n)
		}
	})
}

// TestAppTokenHeaderVariants: Evotor's documented header shapes (testdata/evotor/headers_variants.json).
func TestAppTokenHeaderVariants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	o := opByID(t, "subscriptionEvent")
	for _, h := range []string{
		"Bearer " + appToken,
		"Basic cGFydG5lcjpzM2NyZXQrLz0=", // partner:s3cret+/= — '+' and '/' in the base64
		fmt.Sprintf("  Bearer   %s  ", appToken),
	} {
		if status, resp := e.send(o, fixture(t, samples[o.ID]), h); status != 200 {
			t.Fatalf("%q: %d %s", redact(h), status, resp)
		}
	}
}
