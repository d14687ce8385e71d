package tests

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"pgregory.net/rapid"

	"github.com/evotor-partner/evotor-partner/cmd/evotor-cloud/cloud"
)

// idKey is what the property calls an id field: a key named id or uuid, or ending in Id, Uuid
// or UUID, at any depth.
var idKey = regexp.MustCompile(`^(id|uuid|.*(Id|Uuid|UUID))$`)

// TestEvotorIdsAreOpaque (property): every Evotor request fixture, with every id field replaced
// by another shape real traffic carries (a number in a string, a 15-digit serial, a
// userId-shaped string, a uuid of any version in any case, or null where the spec lets the
// field be optional), is answered 200 and reads back through the admin API exactly as sent.
func TestEvotorIdsAreOpaque(t *testing.T) {
	t.Parallel()
	names, _ := readFixtureNames(t)
	spec := ourSpec(t)
	eachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, withAdmin)
		const owner = "03-000000000000001" // the user behind every notification
		userToken := bearer(e.createUser(owner))
		var counter atomic.Int64 // makes every generated id unique within the run
		rapid.Check(t, func(rt *rapid.T) {
			name := rapid.SampledFrom(names).Draw(rt, "fixture")
			o := fixtureOperation(t, name)
			m := &mutator{rt: rt, next: func() int64 { return counter.Add(1) }}
			body := m.walk(decodeNumbers(t, fixture(t, name)), requestSchema(t, spec, o), "")
			store := m.id(false).(string)
			credential := bearer(appToken)
			if o.Credential == cloud.UserCredential {
				credential = userToken
			}
			prepareAccount(e, o.ID, body, m.next())
			raw, err := json.Marshal(body)
			if err != nil {
				rt.Fatal(err)
			}
			if status, resp := e.sendTo(o, store, raw, credential); status != 200 {
				rt.Fatalf("%s with ids %v → %s: %d %s", name, m.drawn, o.ID, status, resp)
			}
			readBack(rt, e, o.ID, owner, store, body, raw)
		})
	})
}

// mutator replaces id fields while walking a fixture beside its schema.
type mutator struct {
	rt    *rapid.T
	next  func() int64
	drawn []string
}

func (m *mutator) walk(v any, schema *openapi3.Schema, key string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			field := property(schema, k)
			if idKey.MatchString(k) && !isContainer(item) {
				out[k] = m.id(field == nil || field.Nullable)
				continue
			}
			out[k] = m.walk(item, field, k)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = m.walk(item, items(schema, item), key)
		}
		return out
	}
	return v
}

// id draws an id of one of the shapes real traffic carries; null only when optional.
func (m *mutator) id(nullable bool) any {
	kinds := []string{"number", "serial", "userId", "uuid"}
	if nullable {
		kinds = append(kinds, "null")
	}
	kind := rapid.SampledFrom(kinds).Draw(m.rt, "kind")
	n := m.next()
	var id any
	switch kind {
	case "number":
		id = strconv.FormatInt(n, 10)
	case "serial":
		id = fmt.Sprintf("%015d", 100000000000000+n)
	case "userId":
		id = fmt.Sprintf("02-2%014d", n)
	case "uuid":
		b := rapid.SliceOfN(rapid.Byte(), 10, 10).Draw(m.rt, "bytes")
		version := rapid.IntRange(0, 15).Draw(m.rt, "version")
		s := hex.EncodeToString(b) + fmt.Sprintf("%012x", n) // unique: the counter is the node
		s = s[:12] + strconv.FormatInt(int64(version), 16) + s[13:]
		s = s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
		if rapid.Bool().Draw(m.rt, "upper") {
			s = strings.ToUpper(s)
		}
		id = s
	case "null":
		id = nil
	}
	m.drawn = append(m.drawn, fmt.Sprint(id))
	return id
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// property is the schema of an object's member (nil where the object is free-form).
func property(s *openapi3.Schema, name string) *openapi3.Schema {
	if s == nil {
		return nil
	}
	if p := s.Properties[name]; p != nil {
		return p.Value
	}
	for _, alt := range append(s.OneOf, s.AnyOf...) {
		if p := property(alt.Value, name); p != nil {
			return p
		}
	}
	return nil
}

// items is the schema of an array's element, choosing a oneOf branch by the element's shape.
func items(s *openapi3.Schema, item any) *openapi3.Schema {
	if s == nil {
		return nil
	}
	if s.Items != nil {
		return s.Items.Value
	}
	for _, alt := range s.OneOf {
		if alt.Value.Items != nil {
			return alt.Value.Items.Value
		}
	}
	return nil
}

// requestSchema is the JSON body schema of the fixture's operation; for a body that is one
// receipt or an array of them, the oneOf is resolved member by member in property/items.
func requestSchema(t testing.TB, spec *openapi3.T, o cloud.Operation) *openapi3.Schema {
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if !strings.EqualFold(op.OperationID, o.ID) || op.RequestBody == nil {
				continue
			}
			return op.RequestBody.Value.Content.Get("application/json").Schema.Value
		}
	}
	t.Fatalf("no request schema for %s", o.ID)
	return nil
}

// prepareAccount makes a user/verify mutant log in to a fresh account, and gives a user/create
// mutant a fresh login: logins are not ids, and a taken one is rightly a 409.
func prepareAccount(e *env, op string, body any, n int64) {
	m, ok := body.(map[string]any)
	if !ok {
		return
	}
	login := fmt.Sprintf("login-%d@example.ru", n)
	switch op {
	case "verifyUser":
		m["username"], m["password"] = login, "password"
		e.addAccount(login, "password", false)
	case "createUser":
		for _, f := range []string{"username", "login", "email"} {
			if _, ok := m[f]; ok {
				m[f] = login
			}
		}
	}
}

// readBack checks that what was sent is what the admin API gives back.
func readBack(rt *rapid.T, e *env, op, owner, store string, sent any, raw []byte) {
	body, _ := sent.(map[string]any)
	switch op {
	case "createUser", "verifyUser", "storeCloudToken":
		user := effectiveUserID(body)
		res, err := e.client.AdminGetUserWithResponse(context.Background(), user, auth(bearer(adminToken)))
		if err != nil || res.JSON200 == nil || res.JSON200.UserId != user {
			rt.Fatalf("user %q reads back as %v %s", user, err, res.Body)
		}
		if op == "storeCloudToken" && !res.JSON200.HasCloudToken {
			rt.Fatalf("user %q has no cloud token", user)
		}
		return
	case "subscriptionEvent", "installationEvent":
		about, _ := body["userId"].(string)
		if d, ok := body["data"].(map[string]any); ok {
			about, _ = d["userId"].(string)
		}
		expectNewestEvent(rt, e, about, raw)
		return
	}
	expectNewestEvent(rt, e, owner, raw)
	list, ok := sent.([]any)
	if !ok {
		list = []any{sent}
	}
	stored := e.adminAll(listingOf[op], owner, store)
	for _, item := range list {
		if !containsJSON(stored, item) {
			rt.Fatalf("%s: %v is not read back as sent", op, item)
		}
	}
}

func effectiveUserID(body map[string]any) string {
	if id, ok := body["userId"].(string); ok && id != "" {
		return id
	}
	id, _ := body["userUuid"].(string)
	return id
}

// expectNewestEvent: the user's newest inbox entry is the body sent, byte for byte.
func expectNewestEvent(rt *rapid.T, e *env, user string, raw []byte) {
	events, _ := e.adminList("events", user, "", 1, "")
	if len(events) == 0 {
		rt.Fatalf("no inbox entry for %q", user)
	}
	if _, ok := events[0].(map[string]any)["pathParams"].(map[string]any); !ok {
		rt.Fatalf("pathParams of %q's newest event is not an object: %v", user, events[0])
	}
	if got := e.adminEventBody(user, events[0]); string(got) != string(raw) {
		rt.Fatalf("inbox of %q holds %s\nsent %s", user, got, raw)
	}
}

func containsJSON(list []any, want any) bool {
	for _, item := range list {
		if reflect.DeepEqual(item, want) {
			return true
		}
	}
	return false
}
