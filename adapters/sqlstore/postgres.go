package sqlstore

import (
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// How a PostgreSQL connection notices a peer that stopped answering without
// closing it (a network stall, a frozen or vanished host). A connection idle
// for keepAliveIdle is probed every keepAliveInterval and dropped after
// keepAliveCount unanswered probes; a connection whose sent data stays
// unacknowledged for userTimeout is dropped by the kernel (Linux). Either
// way the pool discards it instead of handing it out again. Requests do not
// wait for these: their context's deadline ends their wait first.
const (
	keepAliveIdle     = 5 * time.Second
	keepAliveInterval = time.Second
	keepAliveCount    = 3
	userTimeout       = 5 * time.Second
)

// defaultConnectTimeout bounds connecting (TCP, TLS and authentication) when
// DATABASE_URL sets no connect_timeout.
const defaultConnectTimeout = 5 * time.Second

// serverTimeouts are the PostgreSQL settings that Options.QueryTimeout
// becomes on every connection, so that the server itself ends a statement,
// a lock wait or an idle transaction of a client that gave up (or whose
// network broke) instead of holding locks for as long as the stall lasts.
var serverTimeouts = []string{"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"}

// openPostgres builds the database/sql pool for databaseURL with pgx and
// postgresConfig. The pool does not connect yet.
func openPostgres(databaseURL string, queryTimeout time.Duration) (*sql.DB, error) {
	cfg, err := postgresConfig(databaseURL, queryTimeout)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// postgresConfig parses databaseURL and adds the service's connection
// settings: its own dialer (keepalive and user timeout), a connect timeout,
// and queryTimeout as the server-side timeouts, each unless the URL sets it.
// The error names DATABASE_URL and, as pgx's does, never repeats a password.
func postgresConfig(databaseURL string, queryTimeout time.Duration) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: DATABASE_URL is not a valid PostgreSQL URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	cfg.DialFunc = newDialer().DialContext
	if queryTimeout > 0 {
		ms := strconv.FormatInt(queryTimeout.Milliseconds(), 10)
		for _, name := range serverTimeouts {
			if _, set := cfg.RuntimeParams[name]; !set && !strings.Contains(cfg.RuntimeParams["options"], name) {
				cfg.RuntimeParams[name] = ms
			}
		}
	}
	return cfg, nil
}

// newDialer is the dialer of PostgreSQL connections: TCP keepalive probes
// after keepAliveIdle and, on Linux, TCP_USER_TIMEOUT.
func newDialer() *net.Dialer {
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     keepAliveIdle,
			Interval: keepAliveInterval,
			Count:    keepAliveCount,
		},
		Control: setUserTimeout,
	}
}
