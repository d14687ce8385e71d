package security

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evotor-partner/evotor-partner/impl/evotor"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

func TestEvotorFormats(t *testing.T) {
	for _, s := range []string{"20170222-d58c-40e0-8051-b53adff38860", "20170222-5A12-403A-80F6-75C361356826", "01ba18b6-8707-5f47-3d9c-4db058054cb2"} {
		if !evotor.IsUUID(s) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{"", "c0d01x35-5193-4cc2-9bfb-be20e0679498", "20170222d58c40e08051b53adff38860", "20170222-d58c-40e0-8051-b53adff38860 "} {
		if evotor.IsUUID(s) {
			t.Errorf("%q accepted", s)
		}
	}
	for _, s := range []string{"2017-01-10T09:33:19.757+0000", "2019-10-28T21:14:12.174Z", "2017-06-07T12:55:18Z", "2017-06-07T12:55:18+03:00", "2016-09-13T14:56:00.000+0000"} {
		if _, err := evotor.ParseTime(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "2017-01-10", "1504168645290", "2017-13-10T09:33:19Z", "2017-01-10 09:33:19+0000"} {
		if _, err := evotor.ParseTime(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	a, _ := evotor.ParseTime("2017-01-10T12:33:19.757+0300")
	b, _ := evotor.ParseTime("2017-01-10T09:33:19.757Z")
	if !a.Equal(b) {
		t.Errorf("offsets misread: %v vs %v", a, b)
	}
}

func TestAuthorizationForms(t *testing.T) {
	cases := []struct {
		header string
		bare   bool
		token  string
		ok     bool
	}{
		{"Bearer abc", false, "abc", true},
		{"bearer abc", false, "abc", true},
		{"BEARER  abc ", false, "abc", true},
		{"abc", false, "", false},
		{"abc", true, "abc", true},
		{"Basic abc", true, "", false},
		{"Bearer", true, "Bearer", true}, // a bare credential that happens to read "Bearer": unknown token, refused by lookup
		{"", true, "", false},
	}
	for _, c := range cases {
		token, ok := bearerToken(c.header, c.bare)
		if token != c.token || ok != c.ok {
			t.Errorf("bearerToken(%q, %v) = %q, %v", c.header, c.bare, token, ok)
		}
	}
	if up, ok := basicCredentials("Basic cGFydG5lcjpzM2NyZXQrLz0="); !ok || up != "partner:s3cret+/=" {
		t.Errorf("basic: %q %v", up, ok)
	}
	for _, h := range []string{"Basic !!!", "Basic bm9jb2xvbg==" /* "nocolon" */, "Bearer cGFydG5lcjpzM2NyZXQ="} {
		if _, ok := basicCredentials(h); ok {
			t.Errorf("%q accepted as Basic", h)
		}
	}
}

func TestAppCredentialsCheck(t *testing.T) {
	good := []AppCredentials{
		{Tokens: []string{"3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"}},
		{BasicUser: "u", BasicPassword: "p"},
	}
	bad := []AppCredentials{
		{},
		{Tokens: []string{"01ba18b6-8707-5f47-3d9c-4db058054cb2"}}, // version 5, variant 3
		{Tokens: []string{"3a5f1c2e7b9d4e8fa1b2c3d4e5f6a7b8"}},     // not canonical
		{BasicUser: "u"},
		{BasicUser: "u:x", BasicPassword: "p"},
	}
	for _, c := range good {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range bad {
		if err := c.Check(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	m := newAppMatcher(AppCredentials{Tokens: []string{"3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8", "9b2e7c1d-4f3a-4b5c-8d6e-7f8091a2b3c4"}})
	if !m.bearer("9B2E7C1D-4F3A-4B5C-8D6E-7F8091A2B3C4") || m.bearer("9b2e7c1d-4f3a-4b5c-8d6e-7f8091a2b3c5") || m.basic("u:p") {
		t.Error("app matcher")
	}
}

func TestUserTokensAndPasswords(t *testing.T) {
	a, ha := usertoken.New()
	b, _ := usertoken.New()
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=") || usertoken.HashOf(a) != ha {
		t.Fatalf("tokens %q %q", a, b)
	}
	h := HashPassword("secret")
	check := func(encoded, password string) bool {
		ok, _ := CheckPassword(context.Background(), encoded, password)
		return ok
	}
	if strings.Contains(h, "secret") || !check(h, "secret") || check(h, "Secret") || check("", "") {
		t.Fatal("password hashing")
	}
	if h == HashPassword("secret") {
		t.Fatal("password hashes are not salted")
	}
	if !strings.Contains(h, "$m=19456,t=2,p=1$") { // OWASP's minimum for argon2id
		t.Fatalf("cost of %s", h)
	}
	cheap := HashPasswordAt("secret", 8, 1) // checked at the cost it carries
	if !strings.Contains(cheap, "$m=8,t=1,p=1$") || !check(cheap, "secret") || check(cheap, "Secret") {
		t.Fatalf("a hash at another cost: %s", cheap)
	}
}

// TestPasswordChecksAreBoundedByTheCPUs: however many logins arrive at once, no more argon2
// checks run together than there are CPUs (each holds 19 MiB).
func TestPasswordChecksAreBoundedByTheCPUs(t *testing.T) {
	h := HashPassword("secret")
	var inFlight, most atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				n := int64(len(passwordChecks))
				inFlight.Store(n)
				if n > most.Load() {
					most.Store(n)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for range 8 * runtime.GOMAXPROCS(0) {
		wg.Go(func() { _, _ = CheckPassword(context.Background(), h, "guess") })
	}
	wg.Wait()
	close(stop)
	if m := most.Load(); m > int64(runtime.GOMAXPROCS(0)) || cap(passwordChecks) != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d checks at once, room for %d, %d CPUs", m, cap(passwordChecks), runtime.GOMAXPROCS(0))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range cap(passwordChecks) { // every place taken: a caller whose request ended gives up
		passwordChecks <- struct{}{}
	}
	if _, err := CheckPassword(ctx, h, "secret"); err == nil {
		t.Fatal("a check waited on past its request's end")
	}
	for range cap(passwordChecks) {
		<-passwordChecks
	}
}
