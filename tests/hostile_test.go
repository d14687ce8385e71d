package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// A subscription event and a receipt that pass the schema, for the cases below to spoil.
const (
	goodSubscription = `{"subscriptionId":"SUB","productId":"p","userId":"01-000000000000009","timestamp":"2017-04-20T18:26:37.753+0000","sequenceNumber":1,"type":"SubscriptionCreated","planId":"PLAN","deviceNumber":1}`
	goodStoreID      = "20170928-3176-40EB-80E2-A11F032E282A"
)

func hostileReceipt(version, shiftID, itemName, receiptType string) string {
	return fmt.Sprintf(`{"id":"r-1","version":%s,"data":{"id":"d-1","storeId":"%s","type":"%s","shiftId":"%s",`+
		`"items":[{"id":"2529","name":"%s"}],"extras":{"note":"x"}}}`, version, goodStoreID, receiptType, shiftID, itemName)
}

func deeplyNested(levels int) string {
	return strings.Repeat("[", levels) + strings.Repeat("]", levels)
}

// hostileCases is input no database column can hold, or that would be stored as something
// other than what was validated: TestBadInputGetsEvotorErrors runs them with the rest.
func hostileCases() []badInput {
	nul := `SECRET\u0000VALUE`
	return []badInput{
		{"NUL in a store name", "putStores", `[{"uuid":"s-1","name":"` + nul + `"}]`, security.CodeIncorrect, "name"},
		{"NUL in a receipt type", "postReceipts", hostileReceipt("2", "80", "item", nul), security.CodeIncorrect, "type"},
		{"NUL in a shiftId", "postReceipts", hostileReceipt("2", nul, "item", "SELL"), security.CodeIncorrect, "shiftId"},
		{"NUL in an item name", "postReceipts", hostileReceipt("2", "80", nul, "SELL"), security.CodeIncorrect, "name"},
		{"NUL in a subscriptionId", "subscriptionEvent", strings.Replace(goodSubscription, `"SUB"`, `"`+nul+`"`, 1), security.CodeIncorrect, "subscriptionId"},
		{"NUL in a planId", "subscriptionEvent", strings.Replace(goodSubscription, `"PLAN"`, `"`+nul+`"`, 1), security.CodeIncorrect, "planId"},
		{"NUL in a custom field", "createUser", `{"userId":"01-000000000000009","inn":"` + nul + `"}`, security.CodeIncorrect, "inn"},
		{"NUL in a field name", "createUser", `{"userId":"01-000000000000009","in\u0000n":"1"}`, security.CodeIncorrect, "body"},
		{"receipt version beyond int64", "postReceipts", hostileReceipt("99999999999999999999", "80", "item", "SELL"), security.CodeIncorrect, "version"},
		{"receipt version just beyond int64", "postReceipts", hostileReceipt("9223372036854775808", "80", "item", "SELL"), security.CodeIncorrect, "version"},
		{"deviceNumber beyond int64", "subscriptionEvent", strings.Replace(goodSubscription, `"deviceNumber":1`, `"deviceNumber":123456789012345678901234567890`, 1), security.CodeIncorrect, "deviceNumber"},
		{"nested 10,000 levels in extras", "postReceipts", strings.Replace(hostileReceipt("2", "80", "item", "SELL"), `{"note":"x"}`, `{"note":`+deeplyNested(10000)+`}`, 1), security.CodeIncorrect, "body"},
		{"nested 65 levels", "putStores", `[{"uuid":"s-1","name":"n","extra":` + deeplyNested(63) + `}]`, security.CodeIncorrect, "body"},
		{"invalid UTF-8", "putStores", "[{\"uuid\":\"s-\xff\",\"name\":\"n\"}]", security.CodeMalformed, "body"},
	}
}

// expectRefusalLogged finds the WARN line of a refusal with its operation, code and subject.
func expectRefusalLogged(t *testing.T, logs, operation string, code int, subject string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Level, Msg, Operation, Subject, Reason string
			Code                                   int
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if l.Level == "WARN" && l.Msg == "request refused" && strings.EqualFold(l.Operation, operation) &&
			l.Code == code && l.Subject == subject && l.Reason != "" {
			return
		}
	}
	t.Fatalf("no WARN refusal logged for %s %d %s in:\n%s", operation, code, subject, logs)
}

// TestNulInAPathParameterIsRefused: a NUL in the store of the path is a 2003 on it.
func TestNulInAPathParameterIsRefused(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		status, resp := e.sendTo(opByID(t, "createProducts"), "a\x00b", []byte(`[{"uuid":"p-1","name":"n","group":false}]`), user)
		expectError(t, status, resp, 400, security.CodeIncorrect, "storeUuid")
	})
}

// TestCaseVariantKeysAreNotStored: members whose names differ from the spec's only by case are
// never read as the spec's: the value validated is the value stored.
func TestCaseVariantKeysAreNotStored(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		user := bearer(e.createUser("01-000000000000001"))
		event := strings.Replace(goodSubscription, `"type":"SubscriptionCreated"`,
			`"type":"SubscriptionCreated","TYPE":"SubscriptionTerminated","USERID":"01-000000000000666","UserId":"01-000000000000777"`, 1)
		if status, resp := e.send(opByID(t, "subscriptionEvent"), []byte(event), bearer(appToken)); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		res, err := e.client.AdminGetUserWithResponse(context.Background(), "01-000000000000009", auth(bearer(adminToken)))
		if err != nil || res.JSON200 == nil || len(res.JSON200.Subscriptions) != 1 {
			t.Fatalf("the body's userId owns nothing: %v %s", err, res.Body)
		}
		if s := res.JSON200.Subscriptions[0].Status; s == "terminated" {
			t.Fatalf("a creation was stored as %q", s)
		}
		for _, other := range []string{"01-000000000000666", "01-000000000000777"} {
			res, _ := e.client.AdminGetUserWithResponse(context.Background(), other, auth(bearer(adminToken)))
			if res.StatusCode() != 404 {
				t.Fatalf("a case-variant userId %s got state: %s", other, res.Body)
			}
		}
		receipt := strings.Replace(hostileReceipt("2", "80", "item", "SELL"), `"storeId":`, `"storeid":"evil-store","StoreId":"evil-store-2","storeId":`, 1)
		if status, resp := e.send(opByID(t, "postReceipts"), []byte(receipt), user); status != 200 {
			t.Fatalf("%d %s", status, resp)
		}
		stores := e.adminAll("stores", "01-000000000000001", "")
		var keys []string
		for _, s := range stores {
			keys = append(keys, s.(map[string]any)["uuid"].(string))
		}
		if len(keys) != 1 || keys[0] != evotor.CanonicalID(goodStoreID) {
			t.Fatalf("the receipt claimed %v, want only %s", keys, goodStoreID)
		}
	})
}

// TestReceiptVersionWrittenAsAWholeFloatIsAccepted: the schema's integer admits 2.0 and 2e0
// (as kin-openapi judges it); a receipt stores no version, so its handler binds none, and
// nothing refuses them. Elsewhere a member bound into a Go integer is still a 2003 when written
// so (BindExact). Beyond int64 a version is refused all the same (hostileCases).
func TestReceiptVersionWrittenAsAWholeFloatIsAccepted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		for i, version := range []string{"2.0", "2e0"} {
			receipt := strings.Replace(hostileReceipt(version, "80", "item", "SELL"), `"r-1"`, fmt.Sprintf(`"r-%d"`, i), 1)
			if status, resp := e.send(opByID(t, "postReceipts"), []byte(receipt), user); status != 200 {
				t.Fatalf("version %s: %d %s", version, status, resp)
			}
		}
		var stored int64
		e.db.Model(&storage.ReceiptRow{}).Count(&stored)
		if stored != 2 {
			t.Fatalf("%d receipts stored, want 2", stored)
		}
	})
}

// TestCutShortBodiesAreTheClientsFault: a body that ends before its Content-Length, or trickles
// in past the read timeout, is a 400 2001 logged at WARN — not a 500, not an ERROR.
func TestCutShortBodiesAreTheClientsFault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends()[0])
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	send := func(t *testing.T, declared int, part string, pause time.Duration) string {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/subscription/event HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", appToken, declared, part)
		time.Sleep(pause)
		if pause == 0 {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return ""
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return fmt.Sprintf("%d %s", res.StatusCode, bytes.TrimSpace(buf.Bytes()))
	}
	t.Run("shorter than Content-Length", func(t *testing.T) {
		got := send(t, 500, `{"subscriptionId":"s"`, 0)
		if !strings.HasPrefix(got, "400 ") || !strings.Contains(got, `"code":2001`) {
			t.Fatalf("got %q, want 400 with code 2001", got)
		}
	})
	t.Run("trickled past the read timeout", func(t *testing.T) {
		send(t, 500, `{"subscriptionId":"s"`, 600*time.Millisecond)
	})
	logs := e.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Fatalf("a client's cut-short body was logged as an error:\n%s", logs)
	}
	for _, reason := range []string{"body shorter than its Content-Length", "body not received in time"} {
		if !strings.Contains(logs, reason) {
			t.Fatalf("no refusal logged with reason %q:\n%s", reason, logs)
		}
	}
	expectRefusalLogged(t, logs, "subscriptionEvent", security.CodeMalformed, "body")
}
