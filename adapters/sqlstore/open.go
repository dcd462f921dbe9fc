package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL database behind a *gorm.DB that Open returned.
type Dialect string

// The dialects Open can return.
const (
	// Postgres is PostgreSQL, chosen by a postgres:// or postgresql:// DATABASE_URL.
	Postgres Dialect = "postgres"
	// SQLite is the embedded SQLite file DATA_DIR/usersvc.db, chosen by an
	// empty DATABASE_URL.
	SQLite Dialect = "sqlite"
)

// SQLiteFile is the name of the SQLite database file inside Options.DataDir.
const SQLiteFile = "usersvc.db"

// sqliteBusyTimeout is how long an SQLite connection waits for another
// writer's lock before failing with SQLITE_BUSY (translated to
// ports.ErrUnavailable), unless Options.QueryTimeout is shorter: SQLite's
// busy wait does not end with the context.
const sqliteBusyTimeout = 5 * time.Second

// slowQuery is the duration above which a statement is logged, without its
// SQL or values, at warn level.
const slowQuery = 500 * time.Millisecond

// Options says which database Open opens and how its pool behaves.
type Options struct {
	// DatabaseURL is DATABASE_URL: a postgres:// or postgresql:// URL selects
	// PostgreSQL; empty selects SQLite in DataDir; anything else is an error.
	DatabaseURL string
	// DataDir is DATA_DIR, where the SQLite file lives. Open creates it (mode
	// 0700) when missing. Unused with PostgreSQL.
	DataDir string
	// MaxOpenConns, MaxIdleConns and ConnMaxLifetime configure the
	// database/sql pool; zero keeps database/sql's default.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	// QueryTimeout is DB_QUERY_TIMEOUT, the deadline of one request's
	// database work. On PostgreSQL it becomes each connection's
	// statement_timeout, lock_timeout and idle_in_transaction_session_timeout
	// (unless DatabaseURL sets them), so that the server lets go of a
	// statement, a lock wait or a transaction whose client gave up; on
	// SQLite it caps the busy timeout. Zero sets none of these (migrations).
	QueryTimeout time.Duration
	// Logger receives GORM's own warnings and slow-statement reports, never
	// SQL text or bound values. Nil discards them.
	Logger *slog.Logger
}

// Open opens the database that o.DatabaseURL selects and returns it with its
// dialect. It does not migrate; call Migrate.
//
// With PostgreSQL, Open does not connect: a server that is down at start is
// not an error here, and the caller pings (or the first query fails with
// ports.ErrUnavailable) until it answers. Its connections notice a dead or
// stalled peer (TCP keepalive and, on Linux, TCP_USER_TIMEOUT), give up
// connecting after 5 s unless DatabaseURL sets connect_timeout, and carry
// the server-side timeouts of QueryTimeout; the stores' writes under a
// context deadline are fenced: the server refuses to commit them once the
// deadline has passed.
//
// With SQLite, Open creates DataDir and the file, and sets on every
// connection WAL journaling, foreign keys on, a busy timeout of 5 s (or
// QueryTimeout, if shorter) and BEGIN IMMEDIATE transactions, so concurrent
// writers queue instead of failing with "database is locked"; it fails if
// the file cannot be opened or WAL cannot be enabled.
//
// Open fails when DatabaseURL has another scheme or is not a valid URL; the
// error names DATABASE_URL and never repeats a password.
func Open(ctx context.Context, o Options) (*gorm.DB, Dialect, error) {
	cfg := &gorm.Config{
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		Logger:                 newGormLogger(o.Logger),
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var (
		dialect   Dialect
		dialector gorm.Dialector
	)
	switch scheme := urlScheme(o.DatabaseURL); {
	case o.DatabaseURL == "":
		busy := sqliteBusyTimeout
		if o.QueryTimeout > 0 {
			busy = min(busy, o.QueryTimeout)
		}
		dsn, err := sqliteDSN(o.DataDir, busy)
		if err != nil {
			return nil, "", err
		}
		dialect, dialector = SQLite, sqlite.Open(dsn)
	case scheme == "postgres" || scheme == "postgresql":
		pool, err := openPostgres(o.DatabaseURL, o.QueryTimeout)
		if err != nil {
			return nil, "", err
		}
		dialect, dialector = Postgres, postgres.New(postgres.Config{Conn: pool})
	default:
		return nil, "", fmt.Errorf("sqlstore: DATABASE_URL must be empty (SQLite in DATA_DIR) or a postgres:// or postgresql:// URL, not scheme %q", scheme)
	}

	db, err := gorm.Open(dialector, cfg)
	if err != nil {
		if dialect == Postgres {
			return nil, "", fmt.Errorf("sqlstore: open PostgreSQL: %w", err)
		}
		return nil, "", fmt.Errorf("sqlstore: open SQLite in DATA_DIR: %w", translate(err))
	}
	if dialect == Postgres {
		if err := db.Use(newWriteFence()); err != nil {
			return nil, "", fmt.Errorf("sqlstore: open PostgreSQL: %w", err)
		}
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, "", fmt.Errorf("sqlstore: open: %w", err)
	}
	if o.MaxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(o.MaxOpenConns)
	}
	if o.MaxIdleConns > 0 {
		sqlDB.SetMaxIdleConns(o.MaxIdleConns)
	}
	if o.ConnMaxLifetime > 0 {
		sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
	}
	if dialect == SQLite {
		if err := checkSQLite(ctx, db); err != nil {
			_ = sqlDB.Close()
			return nil, "", err
		}
	}
	return db, dialect, nil
}

// urlScheme returns the lower-cased scheme of a URL, or "" if it has none.
func urlScheme(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		if u, err := url.Parse(raw); err == nil {
			return strings.ToLower(u.Scheme)
		}
		return ""
	}
	return strings.ToLower(scheme)
}

// sqliteDSN creates dataDir if needed and returns the glebarez/go-sqlite DSN
// of its database file.
//
// The DSN is a file: URI (so a path holding '?' or '#' is escaped, not cut)
// whose query the driver reads: each _pragma runs on every new connection, and
// _txlock=immediate makes every read-write transaction BEGIN IMMEDIATE, so it
// takes the write lock up front and waits (busy_timeout) for another writer,
// instead of failing with SQLITE_BUSY when it later upgrades a read lock.
// _time_format is deliberately absent: go-sqlite v1.21 stops reading the
// query at _time_format, which would silently drop _txlock; its default time
// format is already "2006-01-02 15:04:05.999999999-07:00".
func sqliteDSN(dataDir string, busyTimeout time.Duration) (string, error) {
	if dataDir == "" {
		return "", errors.New("sqlstore: DATA_DIR must name a directory for the SQLite file when DATABASE_URL is empty")
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("sqlstore: DATA_DIR: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("sqlstore: create DATA_DIR: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(abs, SQLiteFile)), RawQuery: q.Encode()}
	return u.String(), nil
}

// checkSQLite confirms that the connection settings took effect, so a driver
// that ignored them fails at start rather than under load.
func checkSQLite(ctx context.Context, db *gorm.DB) error {
	var mode string
	if err := db.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		return fmt.Errorf("sqlstore: SQLite in DATA_DIR: %w", translate(err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlstore: SQLite in DATA_DIR: journal_mode is %q, want wal (is DATA_DIR on a filesystem without shared memory?)", mode)
	}
	var fk int
	if err := db.WithContext(ctx).Raw("PRAGMA foreign_keys").Scan(&fk).Error; err != nil {
		return fmt.Errorf("sqlstore: SQLite in DATA_DIR: %w", translate(err))
	}
	if fk != 1 {
		return errors.New("sqlstore: SQLite in DATA_DIR: foreign keys are off")
	}
	return nil
}

// gormLogger hands GORM's own messages to slog at warn level without their
// arguments, and reports slow statements by duration alone. It never renders
// SQL (Trace's fc is not called), so no bound value (a hash, a username)
// reaches the log; failed statements are not logged here because the store
// returns their errors, and the caller decides.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(l *slog.Logger) logger.Interface {
	if l == nil {
		return logger.Discard
	}
	return gormLogger{log: l}
}

func (g gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }

func (g gormLogger) Info(context.Context, string, ...any) {}

func (g gormLogger) Warn(ctx context.Context, msg string, _ ...any) {
	g.log.WarnContext(ctx, "gorm warning", "template", msg)
}

func (g gormLogger) Error(ctx context.Context, msg string, _ ...any) {
	g.log.WarnContext(ctx, "gorm error", "template", msg)
}

func (g gormLogger) Trace(ctx context.Context, begin time.Time, _ func() (string, int64), _ error) {
	if elapsed := time.Since(begin); elapsed > slowQuery {
		g.log.WarnContext(ctx, "slow database statement", "elapsed", elapsed)
	}
}
