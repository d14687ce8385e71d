package security

// Limits on what a request may make the server hold: its headers, and the large bodies in
// flight at once.

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/semaphore"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// BodyBudget bounds the bytes of large request bodies being read and handled at once: a body
// takes up to several times its size while it is parsed and stored, so a few large ones at
// once could take the process's memory, and every delivery in flight with it. A body of
// smallBody or less (receipts, events: the hot path) passes freely; a larger one waits its turn
// for up to wait, then is refused with 503 and a Retry-After (Evotor re-sends). A body that
// does not declare its length counts as bodyLimit, the most it can be.
func BodyBudget(budget, bodyLimit int64, wait time.Duration) echo.MiddlewareFunc {
	const smallBody = 1 << 20
	inFlight := semaphore.NewWeighted(budget)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			size := r.ContentLength
			if size < 0 {
				size = bodyLimit
			}
			if size <= smallBody || r.Body == nil || r.Body == http.NoBody {
				return next(c)
			}
			size = min(size, budget) // a body larger than the budget waits for all of it
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			err := inFlight.Acquire(ctx, size)
			cancel()
			if err != nil {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(max(wait/time.Second, 1))))
				return apperr.Because(apperr.Unavailable, "", "too many large bodies at once")
			}
			defer inFlight.Release(size)
			return next(c)
		}
	}
}

// MaxHeaderBytes is the most a request's headers may take together. net/http refuses more than
// its own limit (1 MiB) in plain text; below that, HeaderLimit refuses what is over this, in
// Evotor's envelope.
const MaxHeaderBytes = 64 << 10

// HeaderLimit answers 431 in the envelope to a request whose headers exceed MaxHeaderBytes,
// before anything else (credentials included) is looked at.
func HeaderLimit() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			size := 0
			for name, values := range c.Request().Header {
				for _, v := range values {
					size += len(name) + len(v) + 4 // ": " and CRLF
				}
			}
			if size > MaxHeaderBytes {
				return apperr.New(apperr.HeadersTooLarge, "")
			}
			return next(c)
		}
	}
}
