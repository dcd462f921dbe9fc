package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	sqlite3 "modernc.org/sqlite/lib"

	"example.com/usersvc/ports"
)

// translate turns GORM and driver errors into what every store promises: a
// failure to reach the database in time wraps ports.ErrUnavailable, and a
// constraint violation names its constraint. It gives no error a bounded
// context's meaning: each store first maps what its own tables mean (a
// missing row, a violation of a constraint it knows, by name, such as
// usernameKey), so a violation of a chat table can never read as "username
// is already taken". Anything else is returned as it is, for the caller to
// log; driver errors carry SQLSTATEs and constraint names, not bound values.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ports.ErrUnavailable):
		return err
	case isConnectivity(err):
		return fmt.Errorf("%w: %v", ports.ErrUnavailable, err)
	}
	if name, ok := violatedConstraint(err); ok {
		return fmt.Errorf("sqlstore: constraint %s violated: %w", name, err)
	}
	return err
}

// constraint is a unique constraint as each dialect names it in its errors:
// PostgreSQL by the constraint's (or unique index's) name, SQLite by the
// table and columns ("UNIQUE constraint failed: users.username_key").
type constraint struct{ postgres, sqlite string }

// usernameKey is the unique index that makes usernames unique
// case-insensitively (migrations 00001_users.sql).
var usernameKey = constraint{postgres: "users_username_key_uq", sqlite: "users.username_key"}

// violatedBy reports whether err is a unique violation of c, and of no other
// constraint.
func (c constraint) violatedBy(err error) bool {
	name, ok := violatedConstraint(err)
	return ok && isUniqueViolation(err) && (name == c.postgres || name == c.sqlite)
}

// violatedConstraint returns the name of the constraint err violates, as
// the database reports it, and whether err is a constraint violation.
func violatedConstraint(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName, strings.HasPrefix(pgErr.Code, "23")
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) && sqliteErr.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		msg := sqliteErr.Error()
		if _, after, ok := strings.Cut(msg, " constraint failed: "); ok {
			name, _, _ := strings.Cut(after, " (")
			return name, true
		}
		return "", true
	}
	return "", false
}

// isUniqueViolation reports a duplicate key, whether GORM translated it or not.
func isUniqueViolation(err error) bool {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports a reference to a missing row.
func isForeignKeyViolation(err error) bool {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// isConnectivity reports a failure to reach or keep the database in time:
// refused or dropped connections, timeouts, a closed pool, a server shutting
// down or out of connections, an SQLite lock not obtained within the busy
// timeout, and everything a passed deadline produces: the context's error, a
// transaction that database/sql rolled back when its context ended, the
// server's statement, lock and idle-transaction timeouts, an interrupted
// SQLite statement, and the write fence's refusal.
func isConnectivity(err error) bool {
	if errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 53: insufficient resources (too many
		// connections, out of memory or disk); 57P01-57P05: the server is
		// shutting down, starting up or idle-terminated the session; 57014:
		// statement_timeout or a cancel; 55P03: lock_timeout; 25P03:
		// idle_in_transaction_session_timeout; and the write fence.
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") ||
			c == "57P01" || c == "57P02" || c == "57P03" || c == "57P05" ||
			c == "57014" || c == "55P03" || c == "25P03" || c == errCodeWriteDeadline
	}
	var sqliteErr *gosqlite.Error
	if errors.As(err, &sqliteErr) {
		code := sqliteErr.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED || code == sqlite3.SQLITE_INTERRUPT
	}
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") ||
		strings.Contains(msg, "closed pool") ||
		strings.Contains(msg, "conn closed")
}
