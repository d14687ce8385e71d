package impl

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/impl/store"
	"github.com/evotor-partner/evotor-partner/security"
)

// DefaultBodyLimit is above Evotor's largest bodies (10 MB product catalogues).
const DefaultBodyLimit = 16 << 20

// APIConfig is everything the HTTP API is assembled from.
type APIConfig struct {
	Store      *store.Store
	Sealer     *security.Sealer
	App        security.AppCredentials
	AdminToken string // the admin API's bearer token; empty: admin routes answer 404
	Logger     *slog.Logger
	BodyLimit  int64 // bytes; 0 means DefaultBodyLimit
	// TokenGrace: how long a superseded user token keeps working (0: forever).
	TokenGrace time.Duration
	// RequireActiveSubscription: notifications of a user whose subscriptions all ended get 402.
	RequireActiveSubscription bool
	Now                       func() time.Time // the clock tokens expire by; nil: time.Now
	Metrics                   *metrics.Metrics // nil: nothing counted
	Forwarding                Forwarding       // the outbox's job queue (admin re-sends); nil: none
}

// NewAPI assembles the HTTP API: spec → validator → generated routes → handlers. Requests pass
// the access log, the body limit and the validator before any handler runs.
func NewAPI(cfg APIConfig) (*echo.Echo, error) {
	spec, err := generated.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("loading embedded spec: %w", err)
	}
	validator, err := security.NewValidator(spec, security.Config{App: cfg.App, AdminToken: cfg.AdminToken, UserTokens: cfg.Store, TokenGrace: cfg.TokenGrace, Now: cfg.Now})
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
	e.Pre(middleware.RemoveTrailingSlash())                // Evotor integrations also call /api/v1/user/create/
	e.Use(accessLog(cfg.Logger))
	if cfg.Metrics != nil {
		deliveries := deliveryOperations(spec)
		cfg.Metrics.ExpectDeliveries(deliveries)
		e.Use(observe(cfg.Metrics, deliveries))
	}
	e.Use(middleware.Recover(), middleware.BodyLimit(fmt.Sprintf("%dB", limit)), validator.Middleware())
	server, err := NewServer(cfg.Store, cfg.Sealer, cfg.Logger, Policy{RequireActiveSubscription: cfg.RequireActiveSubscription}, cfg.Forwarding, spec)
	if err != nil {
		return nil, err
	}
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
			attrs := []any{
				"method", c.Request().Method,
				"path", c.Request().URL.Path,
				"status", c.Response().Status,
				"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
				"bytes_in", c.Request().ContentLength,
			}
			if p, ok := security.PrincipalFrom(c.Request().Context()); ok {
				attrs = append(attrs, "user", p.UserID, "app", p.App)
			}
			logger.InfoContext(c.Request().Context(), "request", attrs...)
			return nil
		}
	}
}
