package impl

import (
	"context"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/evotor-partner/evotor-partner/impl/metrics"
	"github.com/evotor-partner/evotor-partner/security"
)

// deliveryTags mark the spec's operations that are deliveries (stored in the inbox).
var deliveryTags = []string{"events", "notifications"}

// deliveryOperations lists the operationIds the spec tags as events or notifications.
func deliveryOperations(spec *openapi3.T) []string {
	var ids []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if slices.ContainsFunc(op.Tags, func(t string) bool { return slices.Contains(deliveryTags, t) }) {
				ids = append(ids, op.OperationID)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// observe feeds the metrics with every request: operation, status, Evotor code, latency, body
// bytes read and, for a delivery, its outcome. It renders a failure itself, so the status
// counted is the one sent.
func observe(m *metrics.Metrics, deliveries []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			body := &countingBody{ReadCloser: req.Body}
			if body.ReadCloser != nil {
				req.Body = body
			}
			note := &deliveryNote{} // what deliver reports of this request (noteDelivery)
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), deliveryNoteKey{}, note)))
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			r := metrics.Request{Operation: security.OperationOf(c), Status: c.Response().Status, Code: refusalCode(err),
				Duration: time.Since(start), BodyBytes: body.n}
			if slices.Contains(deliveries, r.Operation) {
				r.Delivery = note.outcome(r.Status)
			}
			m.ObserveRequest(r)
			return nil
		}
	}
}

type deliveryNoteKey struct{}

// deliveryNote is what a request's delivery tells observe once it committed.
type deliveryNote struct{ redelivered bool }

// outcome is the delivery's outcome as counted: abandoned when the client gave up first,
// refused unless answered 200, else stored new or found stored already.
func (n *deliveryNote) outcome(status int) string {
	switch {
	case status == security.StatusAbandoned:
		return metrics.Abandoned
	case status != http.StatusOK:
		return metrics.Refused
	case n.redelivered:
		return metrics.Redelivered
	}
	return metrics.Stored
}

// noteDelivery tells observe that the request's delivery was committed: new, or a redelivery.
func noteDelivery(ctx context.Context, redelivery bool) {
	if note, ok := ctx.Value(deliveryNoteKey{}).(*deliveryNote); ok {
		note.redelivered = redelivery
	}
}

// refusalCode is the code the refusal log gives a failure: Evotor's code from the envelope,
// or the status when the body has none ({}); 0 for a success.
func refusalCode(err error) int {
	if err == nil {
		return 0
	}
	return security.AnswerFor(err).Code()
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
