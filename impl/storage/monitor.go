package storage

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// monitor watches PostgreSQL on a connection of its own, outside the pool, so that a busy pool
// or a statement waiting for a row lock is never mistaken for a database that does not answer,
// and legitimate long work (a 10 MB catalogue is hundreds of statements) is never cut. When
// pings go unanswered missesBeforeDown times in a row, the database is down: every pooled
// connection is closed, which fails the statements, BEGINs and COMMITs waiting on them at once,
// and new connections fail immediately, so requests get apperr.Unavailable instead of hanging.
// The first answered ping ends it; the pool then connects afresh.
//
// A ping every timeout/4, each given a third of the timeout: a freeze is noticed within 11/12
// of the timeout (a tick, then two unanswered pings back to back), and a stall shorter than
// 2/3 of it (a loaded machine not running us or PostgreSQL for a second) is no outage: one
// unanswered ping alone failed every request for half a second on a busy 2-core machine.
type monitor struct {
	config   *pgx.ConnConfig // the monitor's own connection, not watched
	interval time.Duration
	deadline time.Duration
	logger   *slog.Logger
	ping     func(context.Context) bool // pingOwnConn; replaced in tests
	own      *pgx.Conn                  // pingOwnConn's connection, kept between pings

	mu    sync.Mutex
	down  bool
	conns map[*watchedConn]struct{} // the pool's open connections

	stop context.CancelFunc
	done chan struct{}
}

// missesBeforeDown is how many pings in a row must go unanswered before the database is down.
const missesBeforeDown = 2

func newMonitor(config *pgx.ConnConfig, timeout time.Duration, logger *slog.Logger) *monitor {
	config = config.Copy()
	config.ConnectTimeout = timeout / 3
	m := &monitor{config: config, interval: timeout / 4, deadline: timeout / 3, logger: logger,
		conns: map[*watchedConn]struct{}{}}
	m.ping = m.pingOwnConn
	return m
}

// notAnswering is why the pool cannot connect while the database is down.
type notAnswering struct{}

func (notAnswering) Error() string   { return "the database is not answering" }
func (notAnswering) Timeout() bool   { return true }
func (notAnswering) Temporary() bool { return true }

// watch wraps the pool's dial function (pgconn.Config.DialFunc): no connection while the
// database is down, and every connection known, to be closed when it goes down.
func (m *monitor) watch(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if m.isDown() {
			return nil, notAnswering{}
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.down {
			_ = c.Close()
			return nil, notAnswering{}
		}
		w := &watchedConn{Conn: c, m: m}
		m.conns[w] = struct{}{}
		return w, nil
	}
}

// watchedConn is a pooled connection's socket; closing it forgets it.
type watchedConn struct {
	net.Conn
	m       *monitor
	dropped atomic.Bool // closed by the monitor, unbeknown to the pool
}

func (c *watchedConn) Close() error {
	c.m.mu.Lock()
	delete(c.m.conns, c)
	c.m.mu.Unlock()
	return c.Conn.Close()
}

func (m *monitor) isDown() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.down
}

// setDown records the verdict, and says whether it changed; on the way down it closes every
// pooled connection.
func (m *monitor) setDown(down bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down == down {
		return false
	}
	m.down = down
	if down {
		for c := range m.conns {
			c.dropped.Store(true)
			_ = c.Conn.Close()
		}
		clear(m.conns)
	}
	return true
}

// shouldPing (stdlib.OptionShouldPing) has the pool check a connection before reusing it when
// the monitor dropped it (the check fails at once and the pool takes another one), besides
// pgx's default: when it was idle for over a second.
func (m *monitor) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	c := p.Conn.PgConn().Conn()
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	w, ok := c.(*watchedConn)
	return p.IdleDuration > time.Second || (ok && w.dropped.Load())
}

// start pings until close.
func (m *monitor) start() {
	ctx, stop := context.WithCancel(context.Background())
	m.stop, m.done = stop, make(chan struct{})
	go func() {
		defer close(m.done)
		ticker := time.NewTicker(m.interval)
		defer ticker.Stop()
		misses := 0
		var since time.Time // of the first unanswered ping in a row, or of the outage
		for {
			began := time.Now()
			answered := m.ping(ctx)
			if ctx.Err() != nil {
				m.closeOwnConn(ctx) // ended: no goodbye awaited
				return
			}
			switch {
			case answered:
				if m.setDown(false) {
					m.logger.Info("database answers again", "down_for", time.Since(since).Round(time.Millisecond).String())
				}
				misses = 0
			default:
				if misses == 0 {
					since = began
				}
				misses++
				if misses >= missesBeforeDown && m.setDown(true) {
					m.logger.Warn("database not answering: requests fail with 503 until it answers",
						"unanswered_for", time.Since(since).Round(time.Millisecond).String())
				}
			}
			select {
			case <-ctx.Done():
			case <-ticker.C:
			}
		}
	}()
}

func (m *monitor) close() {
	m.stop()
	<-m.done
}

// pingOwnConn asks the database for an answer within the deadline, connecting first when
// needed. An error the database sends back (too many clients, say) is an answer too.
func (m *monitor) pingOwnConn(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, m.deadline)
	defer cancel()
	var err error
	if m.own == nil {
		m.own, err = pgx.ConnectConfig(ctx, m.config)
	}
	if err == nil {
		if err = m.own.Ping(ctx); err != nil {
			m.closeOwnConn(ctx)
		}
	}
	var pgErr *pgconn.PgError
	return err == nil || errors.As(err, &pgErr)
}

// closeOwnConn closes the monitor's connection, waiting for the database's goodbye no longer
// than ctx lives (a ping's context: the database may be the one not answering).
func (m *monitor) closeOwnConn(ctx context.Context) {
	if m.own != nil {
		_ = m.own.Close(ctx)
		m.own = nil
	}
}

// postgresDialector is GORM's PostgreSQL dialector whose error translation (every error GORM
// records passes through it) also names a database that did not answer: apperr.Unavailable.
type postgresDialector struct{ *postgres.Dialector }

func (d postgresDialector) Translate(err error) error {
	if unanswered(err) {
		return apperr.Wrap(apperr.Unavailable, err)
	}
	return d.Dialector.Translate(err)
}

// unanswered: a deadline passed, no connection could be made, or the connection broke (the
// monitor closing it, the network failing, the server going away).
func unanswered(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn)
}
