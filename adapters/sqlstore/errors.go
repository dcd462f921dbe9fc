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

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// translate turns GORM and driver errors into the errors the ports promise:
// a missing row is user.ErrNotFound, a unique violation user.ErrUsernameTaken
// (the users table's only unique key besides its primary key), and a failure
// to reach the database wraps ports.ErrUnavailable. Anything else is returned
// as it is, for the caller to log; driver errors carry SQLSTATEs and
// constraint names, not bound values. Methods whose "not found" means
// something else (an unknown session) check before calling translate.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ports.ErrUnavailable):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return user.ErrNotFound
	case isUniqueViolation(err):
		return user.ErrUsernameTaken
	case isConnectivity(err):
		return fmt.Errorf("%w: %v", ports.ErrUnavailable, err)
	}
	return err
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
