package tests

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evotor-partner/evotor-partner/impl/storage"
)

// Values Evotor's reference declares or shows in more than one form are accepted in each, and
// stored in one canonical form: the forms of the same moment store the same time, the number
// and the string of the same session number the same text.

// momentForms are the ways Evotor writes the moment ms (Unix milliseconds) as a JSON value.
func momentForms(ms int64) map[string]string {
	at := time.UnixMilli(ms).UTC()
	moscow := at.In(time.FixedZone("MSK", 3*3600))
	digits := strconv.FormatInt(ms, 10)
	return map[string]string{
		"Z":              strconv.Quote(at.Format("2006-01-02T15:04:05.000Z07:00")),
		"+0000":          strconv.Quote(at.Format("2006-01-02T15:04:05.000-0700")),
		"+03:00":         strconv.Quote(moscow.Format("2006-01-02T15:04:05.000Z07:00")),
		"millis number":  strconv.FormatInt(ms, 10),
		"millis string":  strconv.Quote(strconv.FormatInt(ms, 10)),
		"millis escaped": `"` + fmt.Sprintf(`\u%04x`, digits[0]) + digits[1:] + `"`, // the first digit escaped
	}
}

func TestReceiptDateTimeFormsStoreOneTime(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 1))
		t.Logf("seed %d", seed)
		n := 0
		for round := 0; round < 5; round++ {
			// any moment from 2001 to 2100, to the millisecond
			ms := 1_000_000_000_000 + rng.Int64N(3_100_000_000_000)
			for form, value := range momentForms(ms) {
				n++
				id := fmt.Sprintf("moment-%d-%s", n, form)
				body := fmt.Appendf(nil, `{"id":%q,"timestamp":1496826444000,"type":"ReceiptCreated","version":2,`+
					`"data":{"id":%q,"storeId":"20170928-3176-40EB-80E2-A11F032E282A","dateTime":%s,"type":"SELL","items":[]}}`, id, id, value)
				if status, resp := e.send(opByID(t, "postReceipts"), body, user); status != 200 {
					t.Fatalf("dateTime %s (%s): %d %s", value, form, status, resp)
				}
				var row storage.ReceiptRow
				if err := e.db.Where("id = ?", id).First(&row).Error; err != nil {
					t.Fatal(err)
				}
				if row.DateTime == nil || !row.DateTime.Equal(time.UnixMilli(ms)) {
					t.Fatalf("dateTime %s (%s) stored as %v, want %v", value, form, row.DateTime, time.UnixMilli(ms).UTC())
				}
			}
		}
	})
}

func TestDocumentSessionNumberFormsStoreOneText(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		user := bearer(e.createUser("01-000000000000001"))
		store := "20170228-F4F1-401B-80FA-9ECCA8451FFB"
		for i, c := range []struct{ sent, stored string }{
			{`80`, "80"}, {`"80"`, "80"}, {`"8\u0030"`, "80"}, {`0`, "0"}, {`"A-7"`, "A-7"}, {`"a\"b"`, `a"b`},
		} {
			uuid := fmt.Sprintf("2a1fc216-c23d-43aa-b3a5-51646c2a%04d", i)
			body := fmt.Appendf(nil, `[{"type":"OPEN_SESSION","uuid":%q,"sessionNumber":%s}]`, uuid, c.sent)
			if status, resp := e.sendTo(opByID(t, "putDocuments"), store, body, user); status != 200 {
				t.Fatalf("sessionNumber %s: %d %s", c.sent, status, resp)
			}
			var row storage.DocumentRow
			if err := e.db.Where("uuid = ?", uuid).First(&row).Error; err != nil {
				t.Fatal(err)
			}
			if row.SessionNumber == nil || *row.SessionNumber != c.stored {
				t.Fatalf("sessionNumber %s stored as %v, want %q", c.sent, row.SessionNumber, c.stored)
			}
		}
	})
}

// TestVerifyTakesTheLoginFieldCreateTook: an account created with an app's login field (email,
// login or username) logs in through user/verify with the same field.
func TestVerifyTakesTheLoginFieldCreateTook(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		for i, field := range []string{"email", "login", "username"} {
			creator := fmt.Sprintf("01-00000000000010%d", i)
			login := fmt.Sprintf("shop%d@example.ru", i)
			if res := e.create(fmt.Sprintf(`{"userId":%q,%q:%q,"password":"pw-%d"}`, creator, field, login, i)); res.JSON200 == nil {
				t.Fatalf("create with %s: %d %s", field, res.StatusCode(), res.Body)
			}
			status, resp := e.send(opByID(t, "verifyUser"), fmt.Appendf(nil, `{"userId":%q,%q:%q,"password":"pw-%d"}`, creator, field, login, i), bearer(appToken))
			if status != 200 {
				t.Fatalf("verify with %s: %d %s", field, status, resp)
			}
			status, resp = e.send(opByID(t, "verifyUser"), fmt.Appendf(nil, `{"userId":%q,%q:%q,"password":"wrong"}`, creator, field, login), bearer(appToken))
			if status != 401 || !strings.Contains(string(resp), `"code":1006`) {
				t.Fatalf("verify with %s and a wrong password: %d %s", field, status, resp)
			}
		}
		status, resp := e.send(opByID(t, "verifyUser"), []byte(`{"userId":"01-000000000000199","password":"pw"}`), bearer(appToken))
		if status != 400 || strings.TrimSpace(string(resp)) != `{"errors":[{"code":2002,"reason":"missing","subject":"username"}]}` {
			t.Fatalf("verify without a login: %d %s", status, resp)
		}
	})
}
