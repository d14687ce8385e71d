package security

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	"github.com/valyala/fastjson"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// Validator enforces, for every request, what the spec says of its operation: the security
// requirements (alternatives OR-ed), the content type, the parameters and the body. It is built
// once at start-up; per request it is a map lookup, the authenticators, kin-openapi for the
// parameters (of the operations that have any) and the body's compiled schema (bodyschema.go).
type Validator struct {
	ops     map[opKey]*operation
	auth    map[string]authenticator
	options *openapi3filter.Options
}

// opKey finds an operation by method and echo path (/stores/:storeUuid).
type opKey struct{ method, path string }

type operation struct {
	id       string
	route    *routers.Route // for kin-openapi's parameter check; nil when there are no parameters
	security [][]string     // each alternative: the scheme names that must all pass
	hasBody  bool
	body     *schemaNode // the application/json body's schema
	required bool        // the body is required
	// reading is how the handler reads the body (the operation's x-body-reading): "" bound
	// whole into the generated type; "items" an array element by element (BodyItems); "tree"
	// from the tree the validator checked (BodyTree).
	reading string
	// bodyLimit is the operation's own largest body in bytes (x-body-limit); 0: only the
	// server's limit. Account and event operations take kilobytes: a large body is refused
	// before it is read or parsed, so it cannot cost memory.
	bodyLimit int64
}

// bodyReadings are the values x-body-reading may take.
var bodyReadings = []string{"", "items", "tree"}

// authenticator checks one security scheme against the Authorization header. It returns the
// principal, or the kind of failure to answer with, or an error when it could not decide.
type authenticator func(ctx context.Context, header string) (Principal, apperr.Kind, error)

// Config is what the validator needs besides the spec.
type Config struct {
	App        AppCredentials
	UserTokens UserTokens
	// AdminToken guards the partner's admin API; empty: the admin routes are not served (404).
	AdminToken string
	// TokenGrace is how long a user token stays valid after a newer one was issued for the
	// same user (Evotor may still act on the older one). Zero: forever.
	TokenGrace time.Duration
	Now        func() time.Time // defaults to time.Now
}

// prepared holds, per spec, the one preparation of it (validators built concurrently from one
// parsed spec, as the tests do, prepare it once).
var prepared sync.Map // *openapi3.T → *sync.Once

// prepare readies a spec for matching and checking: no servers (routes are matched on paths
// alone) and the spec's own formats registered.
func prepare(spec *openapi3.T) {
	once, _ := prepared.LoadOrStore(spec, &sync.Once{})
	once.(*sync.Once).Do(func() {
		spec.Servers = nil
		RegisterFormats(spec)
	})
}

// NewValidator builds the validator from the spec (generated.GetSpec()). It fails when an
// operation names a security scheme the server has no authenticator for, or has a body schema
// the compiled validator cannot check in full (bodyschema.go).
func NewValidator(spec *openapi3.T, cfg Config) (*Validator, error) {
	if err := cfg.App.Check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	prepare(spec)
	app := newAppMatcher(cfg.App)
	v := &Validator{
		ops: map[opKey]*operation{},
		auth: map[string]authenticator{
			"appToken": func(_ context.Context, h string) (Principal, apperr.Kind, error) {
				if t, ok := bearerToken(h, false); ok && app.bearer(t) {
					return Principal{App: true}, 0, nil
				}
				return Principal{}, apperr.BadAppCredential, nil
			},
			"appBasic": func(_ context.Context, h string) (Principal, apperr.Kind, error) {
				if up, ok := basicCredentials(h); ok && app.basic(up) {
					return Principal{App: true}, 0, nil
				}
				return Principal{}, apperr.BadAppCredential, nil
			},
			"userToken":  userTokenAuthenticator(cfg.UserTokens, cfg.TokenGrace, cfg.Now),
			"adminToken": adminTokenAuthenticator(cfg.AdminToken),
		},
		options: &openapi3filter.Options{
			// kin-openapi checks only the parameters: security is enforced before it runs (see
			// Middleware) and the body against its compiled schema.
			ExcludeRequestBody:      true,
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: append(spec.GetSchemaValidationOptions(), openapi3.DisableSchemaErrorDetails()),
		},
	}
	schemas := schemaCompiler{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o, err := v.newOperation(spec, schemas, path, item, method, op)
			if err != nil {
				return nil, err
			}
			v.ops[opKey{method, echoPath(path)}] = o
		}
	}
	return v, nil
}

func (v *Validator) newOperation(spec *openapi3.T, schemas schemaCompiler, path string, item *openapi3.PathItem, method string, op *openapi3.Operation) (*operation, error) {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	o := &operation{id: op.OperationID, hasBody: op.RequestBody != nil}
	o.reading, _ = op.Extensions["x-body-reading"].(string)
	if limit, ok := op.Extensions["x-body-limit"].(float64); ok {
		o.bodyLimit = int64(limit)
	}
	if !slices.Contains(bodyReadings, o.reading) {
		return nil, fmt.Errorf("operation %s: x-body-reading %q is none of %q", op.OperationID, o.reading, bodyReadings)
	}
	for _, req := range reqs {
		names := make([]string, 0, len(req))
		for name := range req {
			if v.auth[name] == nil {
				return nil, fmt.Errorf("operation %s: no authenticator for security scheme %q", op.OperationID, name)
			}
			names = append(names, name)
		}
		sort.Strings(names)
		o.security = append(o.security, names)
	}
	if o.hasBody {
		media := op.RequestBody.Value.Content.Get(echo.MIMEApplicationJSON)
		if media == nil || media.Schema == nil {
			return nil, fmt.Errorf("operation %s: the request body has no application/json schema", op.OperationID)
		}
		body, err := schemas.compile(media.Schema)
		if err != nil {
			return nil, fmt.Errorf("operation %s: request body: %w", op.OperationID, err)
		}
		o.body, o.required = body, op.RequestBody.Value.Required
	}
	if len(item.Parameters)+len(op.Parameters) > 0 {
		// kin-openapi gets a copy without security (already enforced) or body (compiled).
		paramsOnly := *op
		paramsOnly.Security = &openapi3.SecurityRequirements{}
		paramsOnly.RequestBody = nil
		o.route = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &paramsOnly}
	}
	return o, nil
}

// echoPath turns /stores/{storeUuid} into echo's /stores/:storeUuid.
func echoPath(p string) string {
	return strings.NewReplacer("{", ":", "}", "").Replace(p)
}

// Middleware runs after echo has routed the request (e.Use), so c.Path() names the operation.
func (v *Validator) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			op := v.ops[opKey{r.Method, c.Path()}]
			if op == nil {
				return v.unmatched(c.Path()) // fails closed: nothing the spec does not name runs
			}
			// What the validator learns goes on the request at once (one context value), so a
			// refusal is logged with its operation.
			state := &requestState{operation: op.id, reading: op.reading}
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), stateKey, state)))
			defer state.letGo()
			if err := v.check(c, op, state); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// letGo gives back what the state holds of the body once the handler has returned. The
// request's context can outlive the request, and the state with it: a pooled database
// connection keeps the context of the last query it ran (pgx's result reader) until it runs
// its next one, so each idle connection would otherwise hold its last request's body (10 MB
// for a catalogue; measured: the body of the last catalogue kept until the next request).
func (s *requestState) letGo() {
	s.releaseDoc()
	s.body, s.items = nil, nil
}

// unmatched is the answer to a request that is no operation of the spec: 405 when the path is
// one of the spec's with another method, else 404, in the envelope. The request goes no
// further, whatever else echo may have routed it to.
func (v *Validator) unmatched(path string) error {
	for key := range v.ops {
		if key.path == path {
			return apperr.New(apperr.MethodNotAllowed, "")
		}
	}
	return apperr.New(apperr.NotFound, "")
}

// check fills state in: the principal, then the body once it passed its schema.
func (v *Validator) check(c echo.Context, op *operation, state *requestState) error {
	r := c.Request()
	if len(op.security) > 0 {
		p, err := v.authenticate(r.Context(), op, r.Header.Get(echo.HeaderAuthorization))
		if err != nil {
			return err
		}
		state.principal, state.hasPrincipal = p, true
	}
	var raw []byte
	if op.hasBody {
		if !isJSON(r.Header.Get(echo.HeaderContentType)) {
			return apperr.New(apperr.UnsupportedMediaType, "")
		}
		body := io.Reader(r.Body)
		if op.bodyLimit > 0 {
			if r.ContentLength > op.bodyLimit {
				return apperr.New(apperr.TooLarge, "") // declared over the limit: nothing is read
			}
			body = io.LimitReader(body, op.bodyLimit+1) // one byte more tells that it is over
		}
		var err error
		if raw, err = readBody(body, r.ContentLength); err != nil {
			return bodyReadFailure(err)
		}
		if op.bodyLimit > 0 && int64(len(raw)) > op.bodyLimit {
			return apperr.New(apperr.TooLarge, "")
		}
		state.body = raw
	}
	if err := v.checkParameters(c, op); err != nil {
		return err
	}
	if op.hasBody {
		items, doc, err := op.checkBodyItems(raw)
		if err != nil {
			return err
		}
		if op.reading == "tree" && doc != nil && doc.root.Type() == fastjson.TypeArray {
			spans, splitErr := elementSpans(raw) // where each element's raw JSON lies
			if splitErr != nil {
				doc.release()
				return splitErr
			}
			items = spans
		}
		state.validated, state.items, state.doc = true, items, doc
	}
	return nil
}

// isJSON: the content type is application/json, with parameters (charset) or without.
func isJSON(contentType string) bool {
	switch contentType {
	case echo.MIMEApplicationJSON, echo.MIMEApplicationJSONCharsetUTF8, "application/json;charset=UTF-8":
		return true // what Evotor and common clients send, without parsing
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == echo.MIMEApplicationJSON
}

// trustedDeclaredLength: a declared body length is allocated at once up to this size, and
// beyond it once that much has arrived (a client declaring 16 MB and sending nothing makes the
// server hold no more than this).
const trustedDeclaredLength = 1 << 20

// readBody reads the whole body, in one allocation when its length is declared (a 10 MB
// catalogue grown by doubling would leave ~15 MB behind to collect).
func readBody(body io.Reader, declared int64) ([]byte, error) {
	size := 512
	if declared > 0 {
		size = int(min(declared, trustedDeclaredLength)) + 1 // +1: room for the read that meets the end
	}
	b := make([]byte, 0, size)
	for {
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case errors.Is(err, io.EOF):
			return b, nil
		case err != nil:
			return nil, err
		case len(b) == cap(b) && int64(len(b)) < declared:
			b = append(make([]byte, 0, declared+1), b...) // the first MB arrived: the rest is expected
		case len(b) == cap(b):
			b = append(b, 0)[:len(b)]
		}
	}
}

// checkBody judges a body against the operation's compiled schema: absent (2002 when
// required), not JSON (2001), or a field that does not fit (2002/2003 on that field).
func (op *operation) checkBody(raw []byte) error {
	_, doc, err := op.checkBodyItems(raw)
	if doc != nil {
		doc.release()
	}
	return err
}

// checkBodyItems is checkBody that also returns, for an array body checked one element at a
// time (checkItems: any array body whose schema is only its items'), where its elements lie;
// for a body checked whole, its tree, which the caller releases.
func (op *operation) checkBodyItems(raw []byte) ([]itemSpan, *jsonDoc, error) {
	if len(raw) == 0 {
		if op.required {
			return nil, nil, apperr.New(apperr.Missing, "body")
		}
		return nil, nil, nil
	}
	if op.body.itemwise() && bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("[")) {
		items, err := checkItems(raw, op.body.items)
		if err != nil {
			return nil, nil, err
		}
		return items, nil, nil
	}
	doc, err := op.checkWholeBody(raw)
	return nil, doc, err
}

// checkWholeBody checks a body read into one tree, and returns the tree when it passed.
func (op *operation) checkWholeBody(raw []byte) (*jsonDoc, error) {
	doc, err := parseBody(raw)
	if err != nil {
		return nil, err
	}
	if !op.body.check(doc, doc.root, bodySubject) {
		err := doc.refusal.err()
		doc.release()
		return nil, err
	}
	return doc, nil
}

// checkParameters refuses path and query values no database column can hold (a NUL
// character or invalid UTF-8: PostgreSQL rejects both, SQLite would store them), then has
// kin-openapi check them against the operation's parameters.
func (v *Validator) checkParameters(c echo.Context, op *operation) error {
	names, values := c.ParamNames(), c.ParamValues()
	for i, name := range names {
		if reason := textProblem(values[i]); reason != "" {
			return apperr.Because(apperr.Incorrect, name, reason)
		}
	}
	var query url.Values
	if c.Request().URL.RawQuery != "" {
		query = c.QueryParams()
	}
	for name, vs := range query {
		for _, v := range vs {
			if reason := textProblem(v); reason != "" {
				return apperr.Because(apperr.Incorrect, name, reason)
			}
		}
	}
	if op.route == nil {
		return nil
	}
	params := make(map[string]string, len(names))
	for i, name := range names {
		params[name] = values[i]
	}
	err := openapi3filter.ValidateRequest(c.Request().Context(), &openapi3filter.RequestValidationInput{
		Request: c.Request(), PathParams: params, QueryParams: query, Route: op.route, Options: v.options,
	})
	if err != nil {
		return parameterFailure(err)
	}
	return nil
}

// bodyReadFailure: a body that ends before its Content-Length, or does not arrive before the
// read timeout, is the client's fault (400 2001), not ours; the body limit's 413 stays.
func bodyReadFailure(err error) error {
	var he *echo.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &apperr.Error{Kind: apperr.Malformed, Subject: "body", Reason: "body shorter than its Content-Length", Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &apperr.Error{Kind: apperr.Malformed, Subject: "body", Reason: "body not received in time", Err: err}
	}
	return &apperr.Error{Kind: apperr.Malformed, Subject: "body", Reason: "body could not be read", Err: err}
}

// authenticate tries the operation's alternatives in order; the first that passes wins. When
// none does, the failure of the last alternative's scheme decides the answer.
func (v *Validator) authenticate(ctx context.Context, op *operation, header string) (Principal, error) {
	kind := apperr.BadAppCredential
	for _, alt := range op.security {
		p, altKind, err := v.tryAll(ctx, alt, header)
		if err != nil {
			return Principal{}, err
		}
		if altKind == 0 {
			return p, nil
		}
		kind = altKind
	}
	return Principal{}, apperr.New(kind, "")
}

func adminTokenAuthenticator(adminToken string) authenticator {
	want := sha256.Sum256([]byte(adminToken))
	return func(_ context.Context, header string) (Principal, apperr.Kind, error) {
		if adminToken == "" {
			return Principal{}, apperr.NotFound, nil // no admin token configured: no admin API
		}
		t, ok := bearerToken(header, false)
		got := sha256.Sum256([]byte(t))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return Principal{}, apperr.BadAdminToken, nil
		}
		return Principal{Admin: true}, 0, nil
	}
}

func (v *Validator) tryAll(ctx context.Context, schemes []string, header string) (Principal, apperr.Kind, error) {
	var p Principal
	for _, name := range schemes {
		got, kind, err := v.auth[name](ctx, header)
		if err != nil || kind != 0 {
			return Principal{}, kind, err
		}
		if got.UserID != "" {
			p = got
		} else if p.UserID == "" {
			p.App, p.Admin = p.App || got.App, p.Admin || got.Admin
		}
	}
	return p, 0, nil
}

// maxUserTokenLen bounds what is hashed and looked up: Evotor caps tokens at 128 characters.
const maxUserTokenLen = 512

func userTokenAuthenticator(tokens UserTokens, grace time.Duration, now func() time.Time) authenticator {
	return func(ctx context.Context, header string) (Principal, apperr.Kind, error) {
		t, ok := bearerToken(header, true)
		if !ok || len(t) > maxUserTokenLen || tokens == nil {
			return Principal{}, apperr.BadUserToken, nil
		}
		rec, found, err := tokens.LookupUserToken(ctx, usertoken.HashOf(t))
		if err != nil {
			return Principal{}, 0, fmt.Errorf("looking up user token: %w", err)
		}
		if !found {
			return Principal{}, apperr.BadUserToken, nil
		}
		check := usertoken.Check{ID: rec.ID, Cutoff: usertoken.Cutoff(now(), grace)}
		if refusal := rec.Refusal(check.Cutoff); refusal != 0 {
			return Principal{}, refusal, nil
		}
		return Principal{UserID: rec.UserID, Token: check}, 0, nil
	}
}

// parameterFailure maps kin-openapi's parameter errors onto Evotor's kinds: a missing required
// parameter 2002, anything else 2003, with the parameter's name as subject (never its value).
func parameterFailure(err error) *apperr.Error {
	var re *openapi3filter.RequestError
	switch {
	case !errors.As(err, &re) || re.Parameter == nil:
		return apperr.Wrap(apperr.Malformed, err)
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return apperr.New(apperr.Missing, re.Parameter.Name)
	}
	return apperr.New(apperr.Incorrect, re.Parameter.Name)
}

// fieldName is the last name in a JSON pointer, skipping array indexes ("0/uuid" -> "uuid").
func fieldName(pointer []string) string {
	for i := len(pointer) - 1; i >= 0; i-- {
		if strings.Trim(pointer[i], "0123456789") != "" {
			return pointer[i]
		}
	}
	return "body"
}
