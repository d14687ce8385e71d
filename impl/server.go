// Package impl is what the server does: one small handler per operation of the spec
// (implementing generated.StrictServerInterface), speaking to the store in domain terms.
package impl

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/evotor-partner/evotor-partner/generated"
	"github.com/evotor-partner/evotor-partner/impl/deliver"
	"github.com/evotor-partner/evotor-partner/impl/docs"
	"github.com/evotor-partner/evotor-partner/impl/sealer"
	"github.com/evotor-partner/evotor-partner/impl/storage"
	"github.com/evotor-partner/evotor-partner/security"
)

// Server implements every operation of openapi/openapi.yaml.
type Server struct {
	store      *storage.Store
	sealer     *sealer.Sealer
	logger     *slog.Logger
	deliveries *deliver.Service // the application layer of events and notifications
	logins     *security.LoginThrottle
	docsPage   []byte // /docs, rendered once
	forwarding Forwarding
	sync       Syncer // nil: reconciliation is not configured
}

var _ generated.StrictServerInterface = (*Server)(nil)

// Policy is how the partner runs its business with Evotor's users.
type Policy = deliver.Policy

// NewServer builds the handlers from what they use: the store, the sealer of Evotor's cloud
// tokens, the log, the partner's policy, the forwarding queue (nil: none) and the spec they
// implement (for /docs).
func NewServer(st *storage.Store, sealer *sealer.Sealer, logger *slog.Logger, policy Policy, forwarding Forwarding, spec *openapi3.T) (*Server, error) {
	page, err := docsPage(spec)
	if err != nil {
		return nil, fmt.Errorf("rendering the contract: %w", err)
	}
	var outbox func() storage.Outbox
	if forwarding != nil {
		outbox = forwarding.Outbox
	}
	return &Server{store: st, sealer: sealer, logger: logger, deliveries: deliver.New(deliver.Store(st), policy, outbox),
		logins:   security.NewLoginThrottle(nil),
		docsPage: page, forwarding: forwarding}, nil
}

// docsPages are the reference pages rendered, by spec: rendering one costs tens of
// milliseconds, and servers assembled from one spec share its page.
var docsPages sync.Map // *openapi3.T → []byte

func docsPage(spec *openapi3.T) ([]byte, error) {
	if page, ok := docsPages.Load(spec); ok {
		return page.([]byte), nil
	}
	page, err := docs.Page(spec)
	if err == nil {
		docsPages.Store(spec, page)
	}
	return page, err
}

// Healthz answers while the process is up.
func (s *Server) Healthz(context.Context, generated.HealthzRequestObject) (generated.HealthzResponseObject, error) {
	return generated.Healthz200JSONResponse{Status: "ok"}, nil
}

// readinessTimeout keeps /readyz's 503 within a probe's usual 1 s when the database does not
// answer.
const readinessTimeout = 800 * time.Millisecond

// Readyz answers 200 while the database answers.
func (s *Server) Readyz(ctx context.Context, _ generated.ReadyzRequestObject) (generated.ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "database not reachable", "error", err.Error())
		return generated.Readyz503JSONResponse{Status: "database unreachable"}, nil
	}
	return generated.Readyz200JSONResponse{Status: "ok"}, nil
}
