// Package tests proves the server from outside: every request goes through the generated
// client into the assembled API, in-process, on SQLite always and on PostgreSQL when
// TEST_DATABASE_URL is set.
package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/impl/storage/storagetest"
	"github.com/evotor-partner/evotor-partner/security"
)

const (
	appToken      = "3a5f1c2e-7b9d-4e8f-a1b2-c3d4e5f6a7b8"
	appBasicUser  = "partner"
	appBasicPass  = "s3cret+/="
	otherAppToken = "9b2e7c1d-4f3a-4b5c-8d6e-7f8091a2b3c4"
)

// fixturesDir holds Evotor's real payloads, committed with the tests (sources in its README).
var fixturesDir = filepath.Join("testdata", "evotor", "requests")

// backend is one database the suite runs on (SQLite, and PostgreSQL when TEST_DATABASE_URL
// is set).
type backend = storagetest.Backend

func backends() []backend { return storagetest.Backends() }

// eachBackend runs f once per backend, as a subtest.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) { storagetest.Each(t, f) }

// env is one running API over a fresh database, with a client and a captured log.
type env struct {
	t      testing.TB
	store  *storage.Store
	db     *gorm.DB // a separate connection to the same database, for looking at rows
	sealer *sealer.Sealer
	api    *echo.Echo
	client *generated.ClientWithResponses
	logs   *syncBuffer
	cfg    impl.APIConfig // what api was assembled from (replica builds another from it)
}

type envOption func(*impl.APIConfig)

func withBodyLimit(n int64) envOption { return func(c *impl.APIConfig) { c.BodyLimit = n } }

func newEnv(t testing.TB, b backend, opts ...envOption) *env {
	key := make([]byte, sealer.SecretKeySize)
	_, _ = rand.Read(key)
	sealer, err := sealer.New(key)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opened := b.Open(t)
	cfg := impl.APIConfig{
		Store:  opened.Store,
		Sealer: sealer,
		App: security.AppCredentials{Tokens: []string{otherAppToken, appToken},
			BasicUser: appBasicUser, BasicPassword: appBasicPass},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{t: t, store: cfg.Store, db: opened.DB, sealer: sealer, logs: logs, cfg: cfg}
	e.assemble()
	return e
}

// replica is a second server process over the same database: its own API, with its own
// in-process state (the user-token cache), as another replica behind a load balancer.
func (e *env) replica() *env {
	r := *e
	r.assemble()
	return &r
}

// assemble builds the API and its client from e.cfg.
func (e *env) assemble() {
	api, err := impl.NewAPI(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	client, err := generated.NewClientWithResponses("http://evotor-partner.test", generated.WithHTTPClient(inProcess{api}))
	if err != nil {
		e.t.Fatal(err)
	}
	e.api, e.client = api, client
}

// inProcess hands requests straight to the API's ServeHTTP: no sockets, same code path.
type inProcess struct{ h http.Handler }

func (d inProcess) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody // echo's BodyLimit needs a body
	}
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	recordAnswer(req, rec.Code)
	return rec.Result(), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Authorization header values.
func bearer(token string) string { return "Bearer " + token }

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// auth sets the Authorization header ("" leaves it out).
func auth(value string) generated.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if value != "" {
			req.Header.Set("Authorization", value)
		}
		return nil
	}
}

const jsonUTF8 = "application/json;charset=UTF-8"

// fixture reads one of Evotor's request files.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// createUser runs user/create for userID and returns the user token.
func (e *env) createUser(userID string) string {
	e.t.Helper()
	res, err := e.client.CreateUserWithBodyWithResponse(context.Background(), jsonUTF8,
		strings.NewReader(`{"userId":"`+userID+`"}`), auth(bearer(appToken)))
	if err != nil {
		e.t.Fatal(err)
	}
	if res.JSON200 == nil {
		e.t.Fatalf("user/create: %d %s", res.StatusCode(), res.Body)
	}
	return res.JSON200.Token
}

// addAccount creates a partner account the way `evotor-partner accounts add` does.
func (e *env) addAccount(login, password string, hasBilling bool) {
	e.t.Helper()
	_, err := e.store.AddAccount(context.Background(), storage.NewAccount{
		Login: login, PasswordHash: passwordHash(password), HasBilling: hasBilling})
	if err != nil {
		e.t.Fatal(err)
	}
}

// passwordHash is an argon2id hash of password at the least cost (8 KiB, one pass): the
// server checks a hash at the cost it carries, so logging in to the tests' accounts costs next
// to nothing (at the production cost it was a third of the suite's CPU). security's own tests
// hold the production cost; accounts made through user/create and the admin API pay it.
func passwordHash(password string) string { return security.HashPasswordAt(password, 8, 1) }

// inboxCount counts stored deliveries.
func (e *env) inboxCount() int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Model(&storage.InboxEntry{}).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// errorCodes decodes an error envelope into its codes; it fails the test on anything else.
func errorCodes(t testing.TB, body []byte) generated.Errors {
	t.Helper()
	var env generated.Errors
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || len(env.Errors) == 0 {
		t.Fatalf("not an Evotor error envelope: %s", body)
	}
	return env
}

// expectError asserts status, code and (when given) subject of an error response.
func expectError(t testing.TB, status int, body []byte, wantStatus, wantCode int, wantSubject string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", status, wantStatus, body)
	}
	e := errorCodes(t, body).Errors[0]
	if e.Code != wantCode {
		t.Fatalf("code %d, want %d; body %s", e.Code, wantCode, body)
	}
	if wantSubject != "" && (e.Subject == nil || *e.Subject != wantSubject) {
		t.Fatalf("subject %v, want %q; body %s", e.Subject, wantSubject, body)
	}
}

// TestPostgresRunsInCI: CI must exercise PostgreSQL, not skip it silently.
func TestPostgresRunsInCI(t *testing.T) {
	t.Parallel()
	if os.Getenv("CI") == "true" && os.Getenv("TEST_DATABASE_URL") == "" {
		t.Fatal("CI=true but TEST_DATABASE_URL is unset: the PostgreSQL suite would be skipped")
	}
}
