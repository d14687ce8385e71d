package security

import "context"

// Principal is who an accepted request comes from: the app (Evotor Cloud holding the app
// credential), the Evotor user behind a user token, or the partner's admin.
type Principal struct {
	App     bool
	Admin   bool   // the partner's own admin API
	UserID  string // Evotor user id; set for user-token requests
	TokenID int64  // the user token's row; set for user-token requests
}

type ctxKey int

const (
	principalKey ctxKey = iota
	rawBodyKey
	validatedBodyKey
)

// operationKey is where the validator leaves the operationId on the echo context, for the log.
const operationKey = "evotor-partner.operation"

// OperationOf names the spec operation a request was routed to ("" when none).
func OperationOf(c interface{ Get(string) any }) string {
	id, _ := c.Get(operationKey).(string)
	return id
}

// PrincipalFrom returns the principal the validator authenticated for this request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// RawBodyFrom returns the request body exactly as received (for the inbox).
func RawBodyFrom(ctx context.Context) []byte {
	b, _ := ctx.Value(rawBodyKey).([]byte)
	return b
}

// WithPrincipal puts a principal on the context (used by the validator, and by tests).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

func withRawBody(ctx context.Context, body []byte) context.Context {
	return context.WithValue(ctx, rawBodyKey, body)
}

// ValidatedBodyFrom returns the body value the validator decoded and checked (JSON objects as
// map[string]any with keys exactly as sent, numbers as json.Number): build rows from this, never
// from a second decode of the raw body.
func ValidatedBodyFrom(ctx context.Context) any { return ctx.Value(validatedBodyKey) }

func withValidatedBody(ctx context.Context, v any) context.Context {
	return context.WithValue(ctx, validatedBodyKey, v)
}
