package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func testUser(t *testing.T, name, hash string) *user.User {
	t.Helper()
	n, err := user.ParseUsername(name)
	if err != nil {
		t.Fatal(err)
	}
	return user.New(user.ID(uuid.New()), n, user.NewPasswordHash(hash), user.FullName{}, t0)
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"mysql://root:hunter2@localhost/db",
		"sqlite:///tmp/x.db",
		"http://example.com",
		"just some text",
	} {
		_, _, err := sqlstore.Open(t.Context(), sqlstore.Options{DatabaseURL: raw, DataDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("Open(%q) = %v, want an error naming DATABASE_URL", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error repeats the password: %v", raw, err)
		}
	}
	_, _, err := sqlstore.Open(t.Context(), sqlstore.Options{DatabaseURL: "postgres://u:hunter2@host:notaport/db"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(malformed postgres URL) = %v, want an error naming DATABASE_URL without the password", err)
	}
	_, _, err = sqlstore.Open(t.Context(), sqlstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "DATA_DIR") {
		t.Errorf("Open(no URL, no DATA_DIR) = %v, want an error naming DATA_DIR", err)
	}
}

func TestOpenSQLiteCreatesDirAndSetsPragmas(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sqltest.SQLiteDir(t), "nested", "data?#dir")
	db, dialect, err := sqlstore.Open(t.Context(), sqlstore.Options{DataDir: dir, MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	if dialect != sqlstore.SQLite {
		t.Fatalf("dialect = %q, want sqlite", dialect)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("DATA_DIR: %v, mode %v; want created with 0700", err, fi.Mode().Perm())
	}
	if err := sqlstore.Migrate(t.Context(), sqlDB, dialect, "up"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlstore.SQLiteFile)); err != nil {
		t.Fatalf("database file: %v", err)
	}

	// Every connection of the pool carries the settings.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := sqlDB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, pragma, got, want)
			}
		}
	}
}

// TestSQLiteTransactionsTakeTheWriteLockAtBegin shows that _txlock=immediate
// reaches the driver: a transaction that has only read already holds the
// write lock, so another writer must wait for it (here, with a short busy
// timeout, it gives up), instead of both proceeding and one failing later
// with "database is locked" when it upgrades.
func TestSQLiteTransactionsTakeTheWriteLockAtBegin(t *testing.T) {
	t.Parallel()
	dir := sqltest.SQLiteDir(t)
	db := openMigrated(t, sqlstore.Options{DataDir: dir})
	sqlDB, _ := db.DB()

	tx, err := sqlDB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(t.Context(), "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlstore.SQLiteFile)+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(t.Context(), "INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, 'x', 'x', 'h', ?, ?)",
		uuid.NewString(), "2026-11-25 20:00:00+00:00", "2026-11-25 20:00:00+00:00")
	if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") && !strings.Contains(err.Error(), "locked") {
		t.Fatalf("write beside an open read-only transaction = %v, want SQLITE_BUSY (the transaction holds the write lock)", err)
	}
}

func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	t.Parallel()
	db, dialect, err := sqlstore.Open(t.Context(), sqlstore.Options{
		DatabaseURL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
	})
	if err != nil {
		t.Fatalf("Open must not connect, got %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	if dialect != sqlstore.Postgres {
		t.Fatalf("dialect = %q", dialect)
	}
	assertStoresUnavailable(t, db)
	if err := sqlstore.Migrate(t.Context(), sqlDB, dialect, "up"); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("Migrate = %v, want ports.ErrUnavailable", err)
	}
	if _, err := sqlstore.MigrationStatus(t.Context(), sqlDB, dialect); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("MigrationStatus = %v, want ports.ErrUnavailable", err)
	}
}

func TestClosedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, sqlstore.Options{DataDir: sqltest.SQLiteDir(t)})
	sqlDB, _ := db.DB()
	_ = sqlDB.Close()
	assertStoresUnavailable(t, db)
}

func TestDeadlineIsUnavailable(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t)})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := db.WithContext(ctx).Exec("SELECT pg_sleep(2)").Error
	if err == nil {
		t.Fatal("pg_sleep outlived its deadline")
	}
	// A store call under an expired deadline reports unavailability, not a 500.
	n, _ := user.ParseUsername("anyone")
	_, err = sqlstore.NewUsers(db).ByUsername(ctx, n)
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("ByUsername after the deadline = %v, want ports.ErrUnavailable", err)
	}
}

// assertStoresUnavailable calls every store method and wants each to fail
// with an error wrapping ports.ErrUnavailable, without panicking.
func assertStoresUnavailable(t *testing.T, db *gorm.DB) {
	t.Helper()
	ctx := t.Context()
	rev := sqlstore.NewRevocations(db, sqlstore.RevocationOptions{Horizon: time.Hour})
	users, sessions, tx := sqlstore.NewUsers(db), sqlstore.NewSessions(db, rev), sqlstore.NewTransactor(db)
	u := testUser(t, "nobody", "h")
	sid, tok := user.SessionID(uuid.New()), user.TokenID(uuid.New())
	calls := map[string]func() error{
		"Users.Add":        func() error { return users.Add(ctx, u) },
		"Users.ByUsername": func() error { _, err := users.ByUsername(ctx, u.Username()); return err },
		"Users.ByID":       func() error { _, err := users.ByID(ctx, u.ID()); return err },
		"Users.Update":     func() error { return users.Update(ctx, u.ID(), func(*user.User) error { return nil }) },
		"Users.Delete":     func() error { return users.Delete(ctx, u.ID()) },
		"Sessions.Start": func() error {
			_, err := sessions.Start(ctx, user.Session{ID: sid, UserID: u.ID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
				Current: user.RefreshToken{ID: tok, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}, LastUsedAt: t0}, 3)
			return err
		},
		"Sessions.Rotate": func() error {
			_, _, err := sessions.Rotate(ctx, sid, tok, user.RefreshToken{ID: tok, IssuedAt: t0, ExpiresAt: t0}, t0, user.Client{})
			return err
		},
		"Sessions.List":         func() error { _, err := sessions.List(ctx, u.ID(), t0); return err },
		"Sessions.Rename":       func() error { _, err := sessions.Rename(ctx, u.ID(), sid, user.SessionName{}, t0); return err },
		"Sessions.RemoveEnded":  func() error { _, err := sessions.RemoveEnded(ctx, t0, 10); return err },
		"Sessions.Revoke":       func() error { return sessions.Revoke(ctx, u.ID(), sid, t0) },
		"Sessions.RevokeOthers": func() error { _, err := sessions.RevokeOthers(ctx, u.ID(), sid, t0); return err },
		"Sessions.RevokeAll":    func() error { _, err := sessions.RevokeAll(ctx, u.ID(), t0); return err },
		"Revocations.Ended": func() error {
			_, err := rev.Ended(ctx, ports.Principal{UserID: uuid.UUID(u.ID()), SessionID: uuid.UUID(sid)})
			return err
		},
		"Transactor.Atomically": func() error {
			return tx.Atomically(ctx, func(ctx context.Context) error { return users.Add(ctx, u) })
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("%s = %v, want an error wrapping ports.ErrUnavailable", name, err)
		}
	}
}

// TestLogsCarryNoSQLOrValues runs statements that succeed, fail and run slow
// with a logger at debug level, and finds neither SQL nor bound values in
// what was logged.
func TestLogsCarryNoSQLOrValues(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const secret = "SECRET-HASH-VALUE"
	for _, o := range []sqlstore.Options{
		{DataDir: sqltest.SQLiteDir(t), Logger: logger},
		{DatabaseURL: sqltest.PostgresURL(t), Logger: logger},
	} {
		db := openMigrated(t, o)
		users := sqlstore.NewUsers(db)
		if err := users.Add(t.Context(), testUser(t, "loggy", secret)); err != nil {
			t.Fatal(err)
		}
		if err := users.Add(t.Context(), testUser(t, "LOGGY", secret)); !errors.Is(err, user.ErrUsernameTaken) {
			t.Fatalf("duplicate Add = %v", err)
		}
		if _, err := users.ByUsername(t.Context(), testUser(t, "missing", secret).Username()); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("ByUsername = %v", err)
		}
		if o.DatabaseURL != "" {
			if err := db.WithContext(t.Context()).Exec("SELECT pg_sleep(0.6), ?::text", secret).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, leak := range []string{secret, "loggy", "LOGGY", "SELECT", "INSERT", "pg_sleep"} {
		if strings.Contains(out, leak) {
			t.Errorf("log output contains %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "slow database statement") {
		t.Errorf("the slow statement was not reported:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestByIDIsOneQuery counts the statements ByID sends: one, on the users
// table alone (GET /me costs one statement). It counts what reaches GORM's
// logger, which sees every statement, those run below GORM's callbacks
// (rawStatement) too.
func TestByIDIsOneQuery(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, sqlstore.Options{DataDir: sqltest.SQLiteDir(t)})
	rec := &statementRecorder{Interface: db.Logger}
	db.Logger = rec
	users := sqlstore.NewUsers(db)
	u := testUser(t, "counted", "h")
	if err := users.Add(t.Context(), u); err != nil {
		t.Fatal(err)
	}

	rec.statements = nil
	if _, err := users.ByID(t.Context(), u.ID()); err != nil {
		t.Fatal(err)
	}
	if len(rec.statements) != 1 {
		t.Fatalf("ByID sent %d statements, want 1: %q", len(rec.statements), rec.statements)
	}
	if q := rec.statements[0]; strings.Contains(q, "JOIN") || !strings.Contains(q, "users") {
		t.Errorf("ByID query = %q, want one lookup in users", q)
	}
}

// statementRecorder is a GORM logger that records the text of every
// statement traced through it and passes everything on to Interface.
type statementRecorder struct {
	logger.Interface
	statements []string
}

func (r *statementRecorder) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	sql, _ := fc()
	r.statements = append(r.statements, sql)
	r.Interface.Trace(ctx, begin, fc, err)
}
