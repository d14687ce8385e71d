package impl

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/logging"
	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// DefaultBodyLimit is above Evotor's largest bodies (10 MB product catalogues).
const DefaultBodyLimit = 16 << 20

// DefaultBodyBudget lets three 10 MB catalogues be handled at once: each takes several times
// its size while it is parsed and stored.
const DefaultBodyBudget = 32 << 20

// APIConfig is everything the HTTP API is assembled from.
type APIConfig struct {
	Store      *storage.Store
	Sealer     *sealer.Sealer
	App        security.AppCredentials
	AdminToken string // the admin API's bearer token; empty: admin routes answer 404
	Logger     *slog.Logger
	BodyLimit  int64 // bytes; 0 means DefaultBodyLimit
	// BodyBudget: bytes of large bodies (over 1 MiB) read and handled at once; 0 means
	// DefaultBodyBudget. A large body beyond it waits up to two seconds, then gets 503.
	BodyBudget int64
	// TokenGrace: how long a superseded user token keeps working (0: forever).
	TokenGrace time.Duration
	// RequireActiveSubscription: notifications of a user whose subscriptions all ended get 402.
	RequireActiveSubscription bool
	Now                       func() time.Time // the clock tokens expire by; nil: time.Now
	Metrics                   *metrics.Metrics // nil: nothing counted
	Forwarding                Forwarding       // the outbox's job queue (admin re-sends); nil: none
	Sync                      Syncer           // reconciliation (admin syncs); nil: POST …/sync answers 503
}

// embeddedSpec is the contract, parsed once per process: parsing it costs tens of
// milliseconds, and it is only read once assembled (the tests assemble hundreds of servers).
var embeddedSpec = sync.OnceValues(generated.GetSpec)

// NewAPI assembles the HTTP API: spec → validator → generated routes → handlers. Requests get
// a request id, then pass the access log, the body limit and the validator before any handler
// runs. Every line logged with a request's context carries its request_id.
func NewAPI(cfg APIConfig) (*echo.Echo, error) {
	cfg.Logger = slog.New(logging.WithRequestIDs(cfg.Logger.Handler()))
	spec, err := embeddedSpec()
	if err != nil {
		return nil, fmt.Errorf("loading embedded spec: %w", err)
	}
	validator, err := security.NewValidator(spec, security.Config{App: cfg.App, AdminToken: cfg.AdminToken, UserTokens: security.NewCachedUserTokens(cfg.Store), TokenGrace: cfg.TokenGrace, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	limit := cfg.BodyLimit
	if limit <= 0 {
		limit = DefaultBodyLimit
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = security.ErrorHandler(cfg.Logger) // the one place an error becomes a response
	e.Binder = security.ExactBinder{}                      // bodies bind from the validated value only
	e.Pre(requestID())                                     // first: every answer and log line has it
	e.Pre(middleware.RemoveTrailingSlash())                // Evotor integrations also call /api/v1/user/create/
	e.Use(accessLog(cfg.Logger))
	if cfg.Metrics != nil {
		deliveries := deliveryOperations(spec)
		cfg.Metrics.ExpectDeliveries(deliveries)
		e.Use(observe(cfg.Metrics, deliveries))
	}
	budget := cfg.BodyBudget
	if budget <= 0 {
		budget = DefaultBodyBudget
	}
	e.Use(middleware.Recover(), security.HeaderLimit(), middleware.BodyLimit(fmt.Sprintf("%dB", limit)),
		security.BodyBudget(budget, limit, 2*time.Second), validator.Middleware())
	server, err := NewServer(cfg.Store, cfg.Sealer, cfg.Logger, Policy{RequireActiveSubscription: cfg.RequireActiveSubscription}, cfg.Forwarding, spec)
	if err != nil {
		return nil, err
	}
	server.logins = security.NewLoginThrottle(cfg.Now) // the clock tokens expire by counts failed logins too
	server.sync = cfg.Sync
	generated.RegisterHandlers(e, generated.NewStrictHandler(server, nil))
	return e, nil
}

// accessLog writes one line per request: method, path, status, duration and the Evotor user.
// Headers are never logged: they carry the credentials.
func accessLog(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // render now, so the status logged is the one sent
			}
			attrs := make([]slog.Attr, 0, 7) // typed attributes: no boxing per request (the hot path logs every receipt)
			attrs = append(attrs,
				slog.String("method", c.Request().Method),
				slog.String("path", c.Request().URL.Path),
				slog.Int("status", c.Response().Status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes_in", c.Request().ContentLength))
			if p, ok := security.PrincipalFrom(c.Request().Context()); ok {
				attrs = append(attrs, slog.String("user", p.UserID), slog.Bool("app", p.App))
			}
			logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
			return nil
		}
	}
}

// requestID gives every request an id: the caller's X-Request-Id when it is sane, else a new
// uuid. It is answered in X-Request-Id and put on the request's context, where the log finds it.
func requestID() echo.MiddlewareFunc {
	withID := middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: uuid.NewString,
		RequestIDHandler: func(c echo.Context, id string) {
			c.SetRequest(c.Request().WithContext(logging.WithRequestID(c.Request().Context(), id)))
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		next = withID(next)
		return func(c echo.Context) error {
			if !saneRequestID(c.Request().Header.Get(echo.HeaderXRequestID)) {
				c.Request().Header.Del(echo.HeaderXRequestID) // a made-up id must not bloat or forge log lines
			}
			return next(c)
		}
	}
}

// saneRequestID: 1 to 128 characters of letters, digits and -_.:+/=@ (uuids, trace ids, base64).
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.:+/=@", r)) {
			return false
		}
	}
	return true
}
