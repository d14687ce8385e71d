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
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// Validator enforces, for every request, what the spec says of its operation: the security
// requirements (alternatives OR-ed), the content type, the parameters and the body. It is built
// once at start-up; per request it is a map lookup, the authenticators and kin-openapi.
type Validator struct {
	ops     map[string]*operation // "METHOD echo-path" -> operation
	auth    map[string]authenticator
	options *openapi3filter.Options
}

type operation struct {
	id       string
	route    *routers.Route
	security [][]string // each alternative: the scheme names that must all pass
	hasBody  bool
}

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

// NewValidator builds the validator from the spec (generated.GetSpec()). It fails when an
// operation names a security scheme the server has no authenticator for.
func NewValidator(spec *openapi3.T, cfg Config) (*Validator, error) {
	if err := cfg.App.Check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	spec.Servers = nil
	RegisterFormats(spec)
	registerJSONDecoder.Do(func() { openapi3filter.RegisterBodyDecoder("application/json", strictJSONBody) })
	app := newAppMatcher(cfg.App)
	v := &Validator{
		ops: map[string]*operation{},
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
			KeepValidatedValue: true,
			// Security is enforced before kin-openapi runs (see Middleware); this only satisfies it.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: append(spec.GetSchemaValidationOptions(), openapi3.DisableSchemaErrorDetails()),
		},
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o, err := v.newOperation(spec, path, item, method, op)
			if err != nil {
				return nil, err
			}
			v.ops[method+" "+echoPath(path)] = o
		}
	}
	return v, nil
}

func (v *Validator) newOperation(spec *openapi3.T, path string, item *openapi3.PathItem, method string, op *openapi3.Operation) (*operation, error) {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	o := &operation{id: op.OperationID, hasBody: op.RequestBody != nil}
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
	// kin-openapi gets a copy without security: it was already enforced, and kin would re-read
	// the body once per alternative.
	unsecured := *op
	unsecured.Security = &openapi3.SecurityRequirements{}
	o.route = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: &unsecured}
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
			op := v.ops[c.Request().Method+" "+c.Path()]
			if op == nil {
				return next(c) // not an operation of the spec: echo's 404/405 follow
			}
			c.Set(operationKey, op.id)
			req, err := v.check(c, op)
			if err != nil {
				return err
			}
			c.SetRequest(req)
			return next(c)
		}
	}
}

func (v *Validator) check(c echo.Context, op *operation) (*http.Request, error) {
	r := c.Request()
	ctx := r.Context()
	if len(op.security) > 0 {
		p, err := v.authenticate(ctx, op, r.Header.Get(echo.HeaderAuthorization))
		if err != nil {
			return nil, err
		}
		ctx = WithPrincipal(ctx, p)
	}
	req := r.WithContext(ctx)
	if op.hasBody {
		mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if err != nil || mt != echo.MIMEApplicationJSON {
			return nil, apperr.New(apperr.UnsupportedMediaType, "")
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyReadFailure(err)
		}
		req = req.WithContext(withRawBody(ctx, raw))
		req.Body = io.NopCloser(bytes.NewReader(raw))
		req.GetBody = nil
	}
	params := make(map[string]string, len(c.ParamNames()))
	for i, name := range c.ParamNames() {
		params[name] = c.ParamValues()[i]
	}
	if err := checkParameters(params, r.URL.Query()); err != nil {
		return nil, err
	}
	err := openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: op.route, Options: v.options,
	})
	if err != nil {
		return nil, validationFailure(err)
	}
	if vb, ok := req.Body.(interface{ ValidatedValue() any }); ok {
		req = req.WithContext(withValidatedBody(req.Context(), vb.ValidatedValue()))
	}
	return req, nil
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

// checkParameters refuses path and query values no database column can hold: a NUL
// character or invalid UTF-8 (PostgreSQL rejects both; SQLite would store them).
func checkParameters(path map[string]string, query url.Values) error {
	for name, v := range path {
		if reason := textProblem(v); reason != "" {
			return apperr.Because(apperr.Incorrect, name, reason)
		}
	}
	for name, vs := range query {
		for _, v := range vs {
			if reason := textProblem(v); reason != "" {
				return apperr.Because(apperr.Incorrect, name, reason)
			}
		}
	}
	return nil
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
		rec, found, err := tokens.LookupUserToken(ctx, HashToken(t))
		switch {
		case err != nil:
			return Principal{}, 0, fmt.Errorf("looking up user token: %w", err)
		case !found || rec.Revoked:
			return Principal{}, apperr.BadUserToken, nil
		case grace > 0 && rec.SupersededAt != nil && !now().Before(rec.SupersededAt.Add(grace)):
			return Principal{}, apperr.ExpiredUserToken, nil
		}
		return Principal{UserID: rec.UserID, TokenID: rec.ID}, 0, nil
	}
}

// validationFailure maps kin-openapi's errors onto Evotor's kinds: unparsable body 2001, a
// missing required field 2002, anything else 2003. The subject is the field's name; the
// submitted value is never rendered.
func validationFailure(err error) *apperr.Error {
	var pe *openapi3filter.ParseError
	var refused *apperr.Error
	if errors.As(err, &pe) && errors.As(pe.RootCause(), &refused) {
		return refused // the body decoder's own refusal (NUL, depth, invalid UTF-8)
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		switch {
		case re.Parameter != nil && errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
			return apperr.New(apperr.Missing, re.Parameter.Name)
		case re.Parameter != nil:
			return apperr.New(apperr.Incorrect, re.Parameter.Name)
		case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
			return apperr.New(apperr.Missing, "body")
		}
		if se := firstSchemaError(re.Err); se != nil {
			subject := fieldName(se.JSONPointer())
			if se.SchemaField == "required" {
				return apperr.New(apperr.Missing, subject)
			}
			return apperr.New(apperr.Incorrect, subject)
		}
	}
	return apperr.Wrap(apperr.Malformed, err)
}

// firstSchemaError finds the first schema error in kin-openapi's (possibly nested) MultiErrors.
func firstSchemaError(err error) *openapi3.SchemaError {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			if se := firstSchemaError(e); se != nil {
				return se
			}
		}
		return nil
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return se
	}
	return nil
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
