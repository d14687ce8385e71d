package store

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"

	"github.com/evotor-partner/evotor-partner/impl/apperr"
)

// monitor watches PostgreSQL on a connection of its own, outside the pool, so that a busy pool
// or a statement waiting for a row lock is never mistaken for a database that does not answer,
// and legitimate long work (a 10 MB catalogue is hundreds of statements) is never cut. When a
// ping goes unanswered, the database is down: the pending reads and writes of every pooled
// connection fail at once, and new ones (and new connections) fail immediately, so requests
// get apperr.Unavailable instead of hanging. The first answered ping ends it.
//
// A freeze is noticed within the timeout: a ping every timeout/4, each given 3/4 of it.
type monitor struct {
	config   *pgx.ConnConfig // the monitor's own connection, not watched
	interval time.Duration
	deadline time.Duration

	down  atomic.Bool
	mu    sync.Mutex
	conns map[*watchedConn]struct{}

	stop context.CancelFunc
	done chan struct{}
}

func newMonitor(config *pgx.ConnConfig, timeout time.Duration) *monitor {
	config = config.Copy()
	config.ConnectTimeout = timeout * 3 / 4
	return &monitor{config: config, interval: timeout / 4, deadline: timeout * 3 / 4, conns: map[*watchedConn]struct{}{}}
}

// notAnswering is the I/O error of pooled connections while the database is down.
type notAnswering struct{}

func (notAnswering) Error() string   { return "the database is not answering" }
func (notAnswering) Timeout() bool   { return true }
func (notAnswering) Temporary() bool { return true }

// watch makes dial's connections fail while the database is down (pgconn.Config.DialFunc).
func (m *monitor) watch(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if m.down.Load() {
			return nil, notAnswering{}
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w := &watchedConn{Conn: c, m: m}
		m.mu.Lock()
		m.conns[w] = struct{}{}
		m.mu.Unlock()
		return w, nil
	}
}

// watchedConn is a pooled connection's socket.
type watchedConn struct {
	net.Conn
	m *monitor
}

func (c *watchedConn) Read(b []byte) (int, error) {
	if c.m.down.Load() {
		return 0, notAnswering{}
	}
	return c.Conn.Read(b)
}

func (c *watchedConn) Write(b []byte) (int, error) {
	if c.m.down.Load() {
		return 0, notAnswering{}
	}
	return c.Conn.Write(b)
}

func (c *watchedConn) Close() error {
	c.m.mu.Lock()
	delete(c.m.conns, c)
	c.m.mu.Unlock()
	return c.Conn.Close()
}

// setDown records the verdict; on the way down it wakes every read and write in progress (a
// past deadline), after which the check in Read and Write fails them.
func (m *monitor) setDown(down bool) {
	if m.down.Swap(down) == down || !down {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.conns {
		_ = c.Conn.SetDeadline(time.Now())
	}
}

// start pings until close.
func (m *monitor) start() {
	ctx, stop := context.WithCancel(context.Background())
	m.stop, m.done = stop, make(chan struct{})
	go func() {
		defer close(m.done)
		var conn *pgx.Conn
		ticker := time.NewTicker(m.interval)
		defer ticker.Stop()
		for {
			var answered bool
			conn, answered = m.ping(ctx, conn)
			if ctx.Err() != nil {
				if conn != nil {
					_ = conn.Close(context.Background())
				}
				return
			}
			m.setDown(!answered)
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

// ping asks the database for an answer within the deadline, connecting first when needed, and
// returns the connection to ping on next time. An error the database sends back (too many
// clients, say) is an answer too.
func (m *monitor) ping(ctx context.Context, conn *pgx.Conn) (*pgx.Conn, bool) {
	ctx, cancel := context.WithTimeout(ctx, m.deadline)
	defer cancel()
	var err error
	if conn == nil {
		conn, err = pgx.ConnectConfig(ctx, m.config)
	}
	if err == nil {
		if err = conn.Ping(ctx); err != nil {
			_ = conn.Close(ctx)
			conn = nil
		}
	}
	var pgErr *pgconn.PgError
	return conn, err == nil || errors.As(err, &pgErr)
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

// unanswered: a deadline passed, no connection could be made, or the network failed (which
// includes the monitor's verdict, notAnswering).
func unanswered(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &connectErr) || errors.As(err, &netErr)
}
