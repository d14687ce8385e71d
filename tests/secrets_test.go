package tests

import (
	"fmt"
	"strings"
	"testing"
)

// dumpTables renders every row of every table as text, bytes included, in a stable order.
func (e *env) dumpTables() string {
	e.t.Helper()
	var sb strings.Builder
	for _, table := range []string{"accounts", "user_tokens", "cloud_tokens", "inbox", "subscription_events",
		"subscriptions", "installation_events", "installations", "stores", "devices", "employees", "products",
		"product_barcodes", "documents", "receipts", "receipt_items"} {
		rows, err := e.db.Raw("SELECT * FROM " + table + " ORDER BY 1, 2").Rows()
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&sb, "%v|", v)
			}
			sb.WriteString("\n")
		}
		_ = rows.Close()
	}
	return sb.String()
}

// TestSecretsAreNeitherStoredNorLogged: issued user tokens, passwords, cloud tokens and the app
// credentials appear in no table and no log line.
func TestSecretsAreNeitherStoredNorLogged(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		const password, createPassword, cloud = "pw-Verify-7f3k", "pw-Create-9q2z", "cloud-token-Zx81"
		e.addAccount("shop", password, false)
		verified := e.verify("01-000000000000001", "shop", password)
		created := e.create(`{"userId":"01-000000000000002","login":"new","password":"` + createPassword + `"}`)
		if verified.JSON200 == nil || created.JSON200 == nil {
			t.Fatalf("verify %s, create %s", verified.Body, created.Body)
		}
		e.send(opByID(t, "storeCloudToken"), []byte(`{"userId":"01-000000000000001","token":"`+cloud+`"}`), basic(appBasicUser, appBasicPass))
		e.send(opByID(t, "putStores"), fixture(t, "stores.json"), bearer(verified.JSON200.Token))
		e.verify("01-000000000000001", "shop", "wrong-"+password) // a failed login is logged too
		e.send(opByID(t, "putStores"), fixture(t, "stores.json"), "Bearer forged-"+created.JSON200.Token)

		secrets := []string{password, createPassword, cloud, verified.JSON200.Token, created.JSON200.Token, appToken, appBasicPass}
		dump, logs := e.dumpTables(), e.logs.String()
		if !strings.Contains(logs, `"status":401`) || !strings.Contains(dump, "Мой магазин") {
			t.Fatalf("the test saw no traffic: logs %q", logs)
		}
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Errorf("database holds secret %s… in plain text", s[:4])
			}
			if strings.Contains(logs, s) {
				t.Errorf("log holds secret %s…", s[:4])
			}
		}
		if strings.Contains(strings.ToLower(logs), "authorization") {
			t.Error("log mentions the Authorization header")
		}
	})
}
