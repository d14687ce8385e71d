package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

func (e *env) verify(userID, login, password string) *generated.VerifyUserResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"userId": userID, "username": login, "password": password})
	res, err := e.client.VerifyUserWithBodyWithResponse(context.Background(), jsonUTF8, bytes.NewReader(body), auth(bearer(appToken)))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) create(body string) *generated.CreateUserResponse {
	e.t.Helper()
	res, err := e.client.CreateUserWithBodyWithResponse(context.Background(), jsonUTF8, strings.NewReader(body), auth(basic(appBasicUser, appBasicPass)))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// tokenWorks reports whether a user token is accepted on a notification. The store it sends
// is derived from the token, so no two users' probes collide on ownership.
func (e *env) tokenWorks(token string) bool {
	e.t.Helper()
	h := sha256.Sum256([]byte(token))
	id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	status, _ := e.send(opByID(e.t, "putStores"), []byte(`[{"uuid":"`+id+`","name":"probe"}]`), bearer(token))
	return status == 200
}

func TestAccountStory(t *testing.T) {
	t.Parallel() // on databases of its own: runs beside the others
	eachBackend(t, func(t *testing.T, b backend) {
		t.Run("accounts add, verify, token works", func(t *testing.T) {
			e := newEnv(t, b)
			e.addAccount("Owner@Example.ru", "correct horse", true)
			res := e.verify("01-000000000000007", "owner@example.ru", "correct horse")
			if res.JSON200 == nil {
				t.Fatalf("verify: %d %s", res.StatusCode(), res.Body)
			}
			if res.JSON200.UserId != "01-000000000000007" || !res.JSON200.HasBilling || len(res.JSON200.Token) < 22 || len(res.JSON200.Token) > 128 {
				t.Fatalf("verify answered %+v", *res.JSON200)
			}
			if !e.tokenWorks(res.JSON200.Token) {
				t.Fatal("token from verify refused")
			}
			var stored storage.InboxEntry
			if err := e.db.Take(&stored).Error; err != nil || stored.EvotorUserID == nil || *stored.EvotorUserID != "01-000000000000007" {
				t.Fatalf("notification not stored under the token's user: %+v %v", stored, err)
			}
			again := e.verify("01-000000000000007", "owner@example.ru", "correct horse")
			if again.JSON200 == nil || again.JSON200.Token == res.JSON200.Token {
				t.Fatalf("repeated verify: %d %s", again.StatusCode(), again.Body)
			}
			if !e.tokenWorks(res.JSON200.Token) || !e.tokenWorks(again.JSON200.Token) {
				t.Fatal("a new token killed the previous one")
			}
		})
		t.Run("create, token works, retry gives a new token for the same account", func(t *testing.T) {
			e := newEnv(t, b)
			first := e.create(string(fixture(t, "user_create.json")))
			if first.JSON200 == nil || first.JSON200.UserId != "01-000000000000003" {
				t.Fatalf("create: %d %s", first.StatusCode(), first.Body)
			}
			retry := e.create(string(fixture(t, "user_create.json")))
			if retry.JSON200 == nil || retry.JSON200.Token == first.JSON200.Token {
				t.Fatalf("retry: %d %s", retry.StatusCode(), retry.Body)
			}
			if !e.tokenWorks(first.JSON200.Token) || !e.tokenWorks(retry.JSON200.Token) {
				t.Fatal("a token from create is refused")
			}
			var accounts []storage.Account
			e.db.Find(&accounts)
			if len(accounts) != 1 || accounts[0].Login == nil || *accounts[0].Login != "test3" {
				t.Fatalf("accounts after create+retry: %+v", accounts)
			}
			var custom map[string]any
			_ = json.Unmarshal([]byte(accounts[0].CustomFields), &custom)
			if custom["customField"] != "Дополнительные данные о пользователе" || custom["password"] != nil {
				t.Fatalf("custom fields kept: %s", accounts[0].CustomFields)
			}
			// The password sent as a custom field became the account's password.
			if res := e.verify("01-000000000000003", "test3", "password"); res.JSON200 == nil {
				t.Fatalf("verify with the password given at create: %d %s", res.StatusCode(), res.Body)
			}
		})
		t.Run("2005 when create names a login another account has", func(t *testing.T) {
			e := newEnv(t, b)
			e.addAccount("owner@example.ru", "pw", false)
			res := e.create(`{"userId":"01-000000000000001","email":"OWNER@example.ru"}`)
			expectError(t, res.StatusCode(), res.Body, 409, security.CodeAlreadyRegistered, "")
			if _, found, _ := e.store.AccountByEvotorUser(context.Background(), "01-000000000000001"); found {
				t.Fatal("a refused create linked an account")
			}
		})
		t.Run("2004 when the account is linked to another Evotor user", func(t *testing.T) {
			e := newEnv(t, b)
			e.addAccount("shop", "pw", false)
			if res := e.verify("01-000000000000001", "shop", "pw"); res.JSON200 == nil {
				t.Fatalf("first verify: %d %s", res.StatusCode(), res.Body)
			}
			res := e.verify("01-000000000000002", "shop", "pw")
			expectError(t, res.StatusCode(), res.Body, 409, security.CodeLinkedElsewhere, "")
			// And an Evotor user already linked to one account cannot take a second.
			e.addAccount("shop2", "pw", false)
			res = e.verify("01-000000000000001", "shop2", "pw")
			expectError(t, res.StatusCode(), res.Body, 409, security.CodeLinkedElsewhere, "")
		})
		t.Run("1006 for a wrong password and an unknown login alike", func(t *testing.T) {
			e := newEnv(t, b)
			e.addAccount("shop", "pw", false)
			wrong := e.verify("01-000000000000001", "shop", "nope")
			unknown := e.verify("01-000000000000001", "nobody", "pw")
			expectError(t, wrong.StatusCode(), wrong.Body, 401, security.CodeBadLoginPassword, "")
			if !bytes.Equal(wrong.Body, unknown.Body) || wrong.StatusCode() != unknown.StatusCode() {
				t.Fatalf("wrong password %s, unknown login %s", wrong.Body, unknown.Body)
			}
		})
		t.Run("user/token is stored encrypted and replaced on repeat", func(t *testing.T) {
			e := newEnv(t, b)
			for _, cloud := range []string{"f46b89a5-8e80-4591-b0aa-94551790444b", "second-cloud-token"} {
				status, resp := e.send(opByID(t, "storeCloudToken"), []byte(`{"userUuid":"01-000000000000001","token":"`+cloud+`"}`), bearer(appToken))
				if status != 200 {
					t.Fatalf("user/token: %d %s", status, resp)
				}
				var rows []storage.CloudToken
				e.db.Find(&rows)
				if len(rows) != 1 || rows[0].EvotorUserID != "01-000000000000001" {
					t.Fatalf("cloud token rows: %+v", rows)
				}
				if bytes.Contains(rows[0].SealedToken, []byte(cloud)) {
					t.Fatal("cloud token stored in plain text")
				}
				plain, err := e.sealer.Open(rows[0].SealedToken, "01-000000000000001")
				if err != nil || string(plain) != cloud {
					t.Fatalf("sealed token opens to %q, %v", plain, err)
				}
				if _, err := e.sealer.Open(rows[0].SealedToken, "01-000000000000002"); err == nil {
					t.Fatal("sealed token opens for another user")
				}
			}
		})
	})
}

// TestFailedLoginsAreThrottled: five wrong passwords for a login, then the sixth attempt is
// refused with 429 without its password being checked — the right password too — for that
// login and for that Evotor user alike; a minute later one more attempt is allowed, so the
// real merchant is never locked out for long; another login and user are not affected.
func TestFailedLoginsAreThrottled(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		var offset atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		e := newEnv(t, b, func(c *impl.APIConfig) { c.Now = clock })
		e.addAccount("victim@example.ru", "right", false)
		e.addAccount("other@example.ru", "right", false)
		for i := range 5 {
			if res := e.verify("01-000000000000501", "victim@example.ru", fmt.Sprint("guess-", i)); res.StatusCode() != 401 {
				t.Fatalf("guess %d: %d %s", i, res.StatusCode(), res.Body)
			}
		}
		for _, attempt := range []struct{ user, login string }{
			{"01-000000000000501", "victim@example.ru"}, // both spent
			{"01-000000000000502", "VICTIM@example.ru"}, // the login, from another user, in another case
			{"01-000000000000501", "other@example.ru"},  // the user, with another login
		} {
			res := e.verify(attempt.user, attempt.login, "right")
			expectError(t, res.StatusCode(), res.Body, 429, 429, "")
		}
		if res := e.verify("01-000000000000503", "other@example.ru", "right"); res.JSON200 == nil {
			t.Fatalf("another login and user: %d %s", res.StatusCode(), res.Body)
		}
		offset.Store(int64(61 * time.Second))
		if res := e.verify("01-000000000000501", "victim@example.ru", "right"); res.JSON200 == nil {
			t.Fatalf("a minute later, the right password: %d %s", res.StatusCode(), res.Body)
		}
	})
}
