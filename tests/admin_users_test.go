package tests

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/evotor-partner/evotor-partner/generated"
)

// TestAdminListsUsersNewestFirst: every user the server heard of (user/create, user/token, a
// subscription or installation event) is listed once, newest first, page by page, and the
// installation and subscription filters keep exactly the users they name.
func TestAdminListsUsersNewestFirst(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		e.createUser("01-000000000000001")
		e.send(opByID(t, "storeCloudToken"), []byte(`{"userId":"01-000000000000002","token":"t"}`), bearer(appToken))
		sub := `{"subscriptionId":"sub-3","productId":"p","userId":"01-000000000000003","timestamp":"2017-04-20T18:26:37.753+0000","sequenceNumber":%d,"type":%q}`
		e.send(opByID(t, "subscriptionEvent"), fmt.Appendf(nil, sub, 1, "SubscriptionCreated"), bearer(appToken))
		e.send(opByID(t, "subscriptionEvent"), fmt.Appendf(nil, sub, 2, "SubscriptionActivated"), bearer(appToken))
		e.send(opByID(t, "installationEvent"), []byte(`{"id":"i-4","timestamp":1504168645290,"version":2,"type":"ApplicationInstalled","data":{"userId":"01-000000000000004","productId":"p"}}`), bearer(appToken))
		e.createUser("01-000000000000001") // a known user stays where it first appeared

		list := func(params generated.AdminListUsersParams) ([]string, *string) {
			res, err := e.client.AdminListUsersWithResponse(context.Background(), &params, auth(bearer(adminToken)))
			if err != nil || res.JSON200 == nil {
				t.Fatalf("%v %d %s", err, res.StatusCode(), res.Body)
			}
			var ids []string
			for _, u := range res.JSON200.Items {
				ids = append(ids, u.UserId)
			}
			return ids, res.JSON200.NextCursor
		}
		var all []string
		limit := 3
		params := generated.AdminListUsersParams{Limit: &limit}
		for {
			ids, next := list(params)
			all = append(all, ids...)
			if next == nil {
				break
			}
			params.Cursor = next
		}
		want := []string{"01-000000000000004", "01-000000000000003", "01-000000000000002", "01-000000000000001"}
		if !slices.Equal(all, want) {
			t.Fatalf("listed %v, want %v", all, want)
		}
		yes, active := true, generated.AdminListUsersParamsSubscriptionStatus("active")
		if ids, _ := list(generated.AdminListUsersParams{Installed: &yes}); !slices.Equal(ids, want[:1]) {
			t.Fatalf("installed: %v", ids)
		}
		if ids, _ := list(generated.AdminListUsersParams{SubscriptionStatus: &active}); !slices.Equal(ids, want[1:2]) {
			t.Fatalf("active subscription: %v", ids)
		}
		bad := "%%%"
		res, _ := e.client.AdminListUsersWithResponse(context.Background(), &generated.AdminListUsersParams{Cursor: &bad}, auth(bearer(adminToken)))
		expectError(t, res.StatusCode(), res.Body, 400, 2003, "cursor")
	})
}
