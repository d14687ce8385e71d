package tests

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/security"
)

// userTokenOperations are the notifications Evotor sends with a user token.
func userTokenOperations() []cloud.Operation {
	var ops []cloud.Operation
	for _, o := range cloud.Operations {
		if o.Credential == cloud.UserCredential {
			ops = append(ops, o)
		}
	}
	return ops
}

// warm has replica accept every user-token notification with token, so that its token cache
// holds the token as valid.
func warm(t *testing.T, replica *env, token string) {
	t.Helper()
	for _, o := range userTokenOperations() {
		if status, resp := replica.send(o, fixture(t, samples[o.ID]), bearer(token)); status != 200 {
			t.Fatalf("%s: %d %s", o.ID, status, resp)
		}
	}
}

// refusedEverywhere: every user-token notification with token gets 401 code on replica and
// stores nothing.
func refusedEverywhere(t *testing.T, replica *env, token string, code int) {
	t.Helper()
	before := replica.inboxCount()
	for _, o := range userTokenOperations() {
		body := fixture(t, samples[o.ID])
		if o.ID == "postReceipts" {
			body = receipt("7e0c1a52-9d44-4c1b-8f6e-2b3a4c5d6e7f", "20170928-3176-40EB-80E2-A11F032E282A", 1) // a new one
		}
		status, resp := replica.send(o, body, bearer(token))
		expectError(t, status, resp, 401, code, "")
	}
	res, err := replica.client.FindCommodityWithResponse(context.Background(), &generated.FindCommodityParams{ScanCode: "2000000000060"}, auth(bearer(token)))
	if err != nil {
		t.Fatal(err)
	}
	expectError(t, res.StatusCode(), res.Body, 401, code, "") // the barcode lookup too
	if n := replica.inboxCount(); n != before {
		t.Fatalf("refused notifications stored %d inbox rows", n-before)
	}
}

// TestUninstallRefusesCachedTokenOnEveryReplica: a replica that has just accepted a token
// (and cached it) refuses it with 1002 as soon as an uninstall on another replica commits,
// for every user-token notification.
func TestUninstallRefusesCachedTokenOnEveryReplica(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		a := newEnv(t, b)
		other := a.replica()
		send := func(body []byte) {
			if status, resp := a.send(opByID(t, "installationEvent"), body, bearer(appToken)); status != 200 {
				t.Fatalf("installation event: %d %s", status, resp)
			}
		}
		send(installation("a99fbf70-6307-4acc-b61c-741ee9eef6c0", "ApplicationInstalled", 1000))
		token := a.createUser("01-000000000000001")
		warm(t, other, token)
		send(installation("c3d4e5f6-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "ApplicationUninstalled", 2000))
		refusedEverywhere(t, other, token, security.CodeBadUserToken)
	})
}

// TestSupersededCachedTokenExpiresOnEveryReplica: a token superseded on one replica expires
// after the grace period on another that cached it while it was the newest (1003).
func TestSupersededCachedTokenExpiresOnEveryReplica(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var offset atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		a := newEnv(t, b, func(c *impl.APIConfig) { c.TokenGrace = time.Hour; c.Now = clock })
		other := a.replica()
		first := a.createUser("01-000000000000001")
		warm(t, other, first)
		a.createUser("01-000000000000001") // supersedes first
		warm(t, other, first)              // within the grace period
		offset.Store(int64(2 * time.Hour))
		refusedEverywhere(t, other, first, security.CodeExpiredUserToken)
	})
}
