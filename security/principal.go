package security

import (
	"context"
	"net/http"

	"github.com/evotor-partner/evotor-partner/impl/usertoken"
)

// Principal is who an accepted request comes from: the app (Evotor Cloud holding the app
// credential), the Evotor user behind a user token, or the partner's admin.
type Principal struct {
	App    bool
	Admin  bool            // the partner's own admin API
	UserID string          // Evotor user id; set for user-token requests
	Token  usertoken.Check // set for user-token requests
}

type ctxKey int

// stateKey holds what the validator learned of a request, in one context value.
const stateKey ctxKey = 0

// requestState is what the validator leaves on the request's context.
type requestState struct {
	operation    string // the spec's operationId
	reading      string // how the handler reads the body (operation.reading)
	principal    Principal
	hasPrincipal bool
	body         []byte     // exactly as received
	validated    bool       // body passed the operation's schema
	items        []itemSpan // an array body checked element by element (jsondoc.go): where they lie
	doc          *jsonDoc   // a whole body's tree, held until the handler returns (BodyTree)
}

func stateOf(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey).(*requestState)
	return s
}

// OperationOf names the spec operation a request was routed to ("" when none), once the
// validator has run (an echo.Context).
func OperationOf(c interface{ Request() *http.Request }) string {
	if s := stateOf(c.Request().Context()); s != nil {
		return s.operation
	}
	return ""
}

// PrincipalFrom returns the principal the validator authenticated for this request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	if s := stateOf(ctx); s != nil && s.hasPrincipal {
		return s.principal, true
	}
	return Principal{}, false
}

// RawBodyFrom returns the request body exactly as received (for the inbox, and to bind with
// BindExact once the validator accepted it).
func RawBodyFrom(ctx context.Context) []byte {
	if s := stateOf(ctx); s != nil {
		return s.body
	}
	return nil
}

// validatedBody is the body, when the validator checked it against the operation's schema.
func validatedBody(ctx context.Context) ([]byte, bool) {
	if s := stateOf(ctx); s != nil && s.validated {
		return s.body, true
	}
	return nil, false
}

// WithPrincipal puts a principal on the context (used by the validator, and by tests).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	s := requestState{}
	if old := stateOf(ctx); old != nil {
		s = *old
		s.doc = nil // the tree stays the original state's, released with it
	}
	s.principal, s.hasPrincipal = p, true
	return context.WithValue(ctx, stateKey, &s)
}
