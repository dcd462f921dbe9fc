package sqlstore

// Tests of the write fence, the server-side timeouts and the error
// translation of a passed deadline, from inside the package: they set the
// clock estimate and read connection settings directly.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

var fenceT0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// openPostgresForTest opens and migrates a fresh PostgreSQL database with o
// (DatabaseURL filled in when empty) and closes it when the test ends.
func openPostgresForTest(t *testing.T, o Options) *gorm.DB {
	t.Helper()
	if o.DatabaseURL == "" {
		o.DatabaseURL = sqltest.PostgresURL(t)
	}
	db, dialect, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	if err := Migrate(t.Context(), sqlDB, dialect, "up"); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func fenceUser(t *testing.T, name string) *user.User {
	t.Helper()
	n, err := user.ParseUsername(name)
	if err != nil {
		t.Fatal(err)
	}
	return user.New(user.ID(uuid.New()), n, user.NewPasswordHash("h"), user.FullName{}, fenceT0)
}

func fenceSession(uid user.ID) user.Session {
	return user.Session{
		ID: user.SessionID(uuid.New()), UserID: uid, CreatedAt: fenceT0, ExpiresAt: fenceT0.Add(time.Hour),
		Current: user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: fenceT0, ExpiresAt: fenceT0.Add(time.Hour)},
	}
}

func TestClockEstimateIsALowerBoundAndPrefersShortRoundTrips(t *testing.T) {
	t.Parallel()
	f := newWriteFence()
	now := time.Now()
	if _, _, fresh := f.estimate(now); fresh {
		t.Fatal("a new fence has a fresh estimate")
	}
	// The server is 10 s ahead. A 40 ms round trip: the stamp was taken
	// somewhere inside it, so server − received is at most the offset.
	sent := now
	received := sent.Add(40 * time.Millisecond)
	server := sent.Add(20 * time.Millisecond).Add(10 * time.Second)
	offset, margin := f.observe(sent, received, server)
	if offset > 10*time.Second || offset < 10*time.Second-40*time.Millisecond {
		t.Errorf("offset %s, want within the round trip below 10s", offset)
	}
	if margin != 40*time.Millisecond+10*time.Millisecond && margin != max(fenceMargin, 40*time.Millisecond) {
		t.Errorf("margin %s, want max(fenceMargin, 40ms)", margin)
	}
	// A slower sample does not replace the offset, but widens the margin.
	offset2, margin2 := f.observe(received, received.Add(400*time.Millisecond), received.Add(10*time.Second+10*time.Millisecond))
	if offset2 != offset || margin2 != 400*time.Millisecond {
		t.Errorf("after a slow sample: offset %s margin %s, want %s and 400ms", offset2, margin2, offset)
	}
	// A sample as quick as the best one replaces it.
	later := received.Add(time.Second)
	offset3, _ := f.observe(later, later.Add(time.Millisecond), later.Add(10*time.Second))
	if offset3 != 10*time.Second-time.Millisecond {
		t.Errorf("after a quick sample: offset %s, want 10s−1ms", offset3)
	}
	if _, _, fresh := f.estimate(later.Add(clockSampleTTL / 2)); !fresh {
		t.Error("the estimate went stale before clockSampleTTL")
	}
	if _, _, fresh := f.estimate(later.Add(clockSampleTTL + time.Second)); fresh {
		t.Error("the estimate is still fresh after clockSampleTTL")
	}
	// Once stale, any sample replaces it, however slow.
	stale := later.Add(clockSampleTTL + time.Second)
	if offset4, _ := f.observe(stale, stale.Add(time.Second), stale.Add(5*time.Second)); offset4 != 4*time.Second {
		t.Errorf("a stale estimate was kept: offset %s, want 4s", offset4)
	}
}

func TestWriteDeadlineIsTheContextDeadlineOnTheServerClock(t *testing.T) {
	t.Parallel()
	db := openPostgresForTest(t, Options{})
	tx := NewTransactor(db)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var fence time.Time
	err := tx.Atomically(ctx, func(ctx context.Context) error {
		var s string
		if err := conn(ctx, db).Raw("SELECT current_setting('usersvc.write_deadline')").Scan(&s).Error; err != nil {
			return err
		}
		var err error
		fence, err = time.Parse(fenceFormat, s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Server and client share a clock here: the fence is the deadline less
	// the margin, less at most a (loosely bounded) round trip.
	if fence.After(deadline.Add(-fenceMargin)) || fence.Before(deadline.Add(-time.Second)) {
		t.Errorf("write deadline %s, want just before %s − %s", fence, deadline.UTC(), fenceMargin)
	}
	// No deadline, no fence.
	err = tx.Atomically(t.Context(), func(ctx context.Context) error {
		var s string
		if err := conn(ctx, db).Raw("SELECT current_setting('usersvc.write_deadline', true)").Scan(&s).Error; err != nil {
			return err
		}
		if s != "" {
			t.Errorf("write deadline %q without a context deadline", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFencedWritesArePassedOverAfterTheDeadline makes the server's clock look
// an hour ahead of its estimate, so that every fence has passed when the
// write reaches the server, and wants every write to fail with
// ports.ErrUnavailable having changed nothing.
func TestFencedWritesArePassedOverAfterTheDeadline(t *testing.T) {
	t.Parallel()
	db := openPostgresForTest(t, Options{})
	users, sessions, tx := NewUsers(db), NewSessions(db, NewRevocations(db, RevocationOptions{Horizon: time.Hour})), NewTransactor(db)

	chats, messages, outbox := NewChats(db), NewMessages(db), NewOutbox(db)

	// Prepared without a deadline, so unfenced.
	u := fenceUser(t, "fenced")
	sess := fenceSession(u.ID())
	other := fenceSession(u.ID())
	ended := fenceSession(u.ID())
	ended.ExpiresAt = fenceT0.Add(time.Minute)
	title, _ := chat.ParseTitle("Fenced")
	body, _ := chat.ParseBody("late")
	owner := uuid.UUID(u.ID())
	c := chat.New(chat.ID(uuid.New()), owner, title, fenceT0)
	if err := users.Add(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for _, s := range []user.Session{sess, other, ended} {
		if _, err := sessions.Start(t.Context(), s, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := chats.Add(t.Context(), c); err != nil {
		t.Fatal(err)
	}

	f := fenceOf(db)
	if f == nil {
		t.Fatal("the PostgreSQL handle has no write fence")
	}
	f.mu.Lock()
	f.offset, f.rtt, f.at = -time.Hour, 0, time.Now()
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	late := fenceUser(t, "latecomer")
	next := user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: fenceT0.Add(time.Minute), ExpiresAt: fenceT0.Add(time.Hour)}
	now := fenceT0.Add(time.Minute)
	writes := map[string]func() error{
		"Users.Add": func() error { return users.Add(ctx, late) },
		"Transactor.Atomically": func() error {
			return tx.Atomically(ctx, func(ctx context.Context) error { return users.Add(ctx, late) })
		},
		"Users.Update": func() error {
			return users.Update(ctx, u.ID(), func(u *user.User) error {
				u.SetPasswordHash(user.NewPasswordHash("changed"), now)
				return nil
			})
		},
		"Users.Delete": func() error { return users.Delete(ctx, u.ID()) },
		"Sessions.Start": func() error {
			_, err := sessions.Start(ctx, fenceSession(u.ID()), 1) // would evict both live sessions
			return err
		},
		"Sessions.Rotate": func() error {
			_, _, err := sessions.Rotate(ctx, sess.ID, sess.Current.ID, next, now, user.Client{})
			return err
		},
		"Sessions.Rename": func() error {
			name, _ := user.ParseSessionName("Late")
			_, err := sessions.Rename(ctx, u.ID(), sess.ID, name, now)
			return err
		},
		"Sessions.RemoveEnded":  func() error { _, err := sessions.RemoveEnded(ctx, fenceT0.Add(time.Hour), 10); return err },
		"Sessions.Revoke":       func() error { return sessions.Revoke(ctx, u.ID(), sess.ID, now) },
		"Sessions.RevokeOthers": func() error { _, err := sessions.RevokeOthers(ctx, u.ID(), sess.ID, now); return err },
		"Sessions.RevokeAll":    func() error { _, err := sessions.RevokeAll(ctx, u.ID(), now); return err },
		"Chats.Add":             func() error { return chats.Add(ctx, chat.New(chat.ID(uuid.New()), owner, title, now)) },
		"Chats.Update": func() error {
			_, err := chats.Update(ctx, owner, c.ID(), func(c *chat.Chat) error { c.Rename(title, now); return nil })
			return err
		},
		"Chats.Delete": func() error { return chats.Delete(ctx, owner, c.ID()) },
		"Messages.Add": func() error {
			return messages.Add(ctx, owner, chat.NewMessage(chat.MessageID(uuid.New()), c.ID(), owner, body, now))
		},
		"Outbox.Record": func() error {
			return outbox.Record(ctx, ports.Event{ID: uuid.New(), Type: "late.event", Subject: owner, Time: now, Data: []byte(`{}`)})
		},
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("%s past the write deadline = %v, want an error wrapping ports.ErrUnavailable", name, err)
		}
	}

	// Nothing changed.
	if page, err := chats.List(t.Context(), owner, chat.PageRequest{Limit: 10}); err != nil || len(page.Items) != 1 || !page.Items[0].UpdatedAt().Equal(c.UpdatedAt()) {
		t.Errorf("chats after late writes: %v, %v; want the one chat, unchanged", page.Items, err)
	}
	if page, err := messages.List(t.Context(), owner, c.ID(), chat.PageRequest{Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Errorf("messages after late writes: %v, %v; want none", page.Items, err)
	}
	if _, err := users.ByUsername(t.Context(), late.Username()); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the late user was stored: %v", err)
	}
	stored, err := users.ByUsername(t.Context(), u.Username())
	if err != nil {
		t.Fatalf("the user is gone: %v", err)
	}
	if stored.PasswordHash() != u.PasswordHash() {
		t.Error("the late update was stored")
	}
	var count int64
	if err := db.Model(&sessionRow{}).Where("user_id = ?", u.ID().String()).Count(&count).Error; err != nil || count != 3 {
		t.Errorf("sessions of the user: %d (%v), want the 3 it had", count, err)
	}
	for _, want := range []user.Session{sess, other, ended} {
		got, err := sessions.byID(t.Context(), want.ID)
		if err != nil || got.Current.ID != want.Current.ID || !got.RevokedAt.IsZero() || !got.Name.IsZero() {
			t.Errorf("session %s after late writes: %+v, %v; want it stored, unrotated, unnamed and not revoked", want.ID, got, err)
		}
	}
	if err := db.Table("outbox").Count(&count).Error; err != nil || count != 0 {
		t.Errorf("outbox rows after late writes: %d (%v), want none", count, err)
	}

	// Rotate's fence never reads as "not rotated" (which the use case would
	// judge as a replayed token), but a token that really is stale still does.
	f.mu.Lock()
	f.offset, f.rtt, f.at = 0, 0, time.Time{}
	f.mu.Unlock()
	if _, rotated, err := sessions.Rotate(ctx, sess.ID, sess.Current.ID, next, now, user.Client{}); err != nil || !rotated {
		t.Fatalf("Rotate within the deadline = %v, %v; want rotated", rotated, err)
	}
	if _, rotated, err := sessions.Rotate(ctx, sess.ID, sess.Current.ID, next, now, user.Client{}); err != nil || rotated {
		t.Errorf("Rotate of the retired token = %v, %v; want not rotated and no error", rotated, err)
	}
}

func TestServerTimeoutsFollowQueryTimeout(t *testing.T) {
	t.Parallel()
	base := sqltest.PostgresURL(t)
	show := func(t *testing.T, db *gorm.DB, name string) string {
		t.Helper()
		var v string
		if err := db.Raw("SHOW " + name).Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	db := openPostgresForTest(t, Options{DatabaseURL: base, QueryTimeout: 1500 * time.Millisecond})
	for _, name := range serverTimeouts {
		if got := show(t, db, name); got != "1500ms" {
			t.Errorf("%s = %q, want 1500ms (QueryTimeout)", name, got)
		}
	}
	// The URL's own settings win.
	db = openPostgresForTest(t, Options{DatabaseURL: base + "&statement_timeout=7000", QueryTimeout: time.Second})
	if got := show(t, db, "statement_timeout"); got != "7s" {
		t.Errorf("statement_timeout = %q, want the URL's 7s", got)
	}
	if got := show(t, db, "lock_timeout"); got != "1s" {
		t.Errorf("lock_timeout = %q, want 1s", got)
	}
	// Without QueryTimeout (migrations), none is set.
	db = openPostgresForTest(t, Options{DatabaseURL: base})
	for _, name := range serverTimeouts {
		if got := show(t, db, name); got != "0" {
			t.Errorf("%s = %q without QueryTimeout, want 0", name, got)
		}
	}
}

func TestPostgresConfigConnectTimeoutAndDialer(t *testing.T) {
	t.Parallel()
	cfg, err := postgresConfig("postgres://u@127.0.0.1:5432/db?sslmode=disable", 0)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnectTimeout != defaultConnectTimeout || cfg.DialFunc == nil {
		t.Errorf("ConnectTimeout %s, DialFunc set %v; want %s and the service's dialer", cfg.ConnectTimeout, cfg.DialFunc != nil, defaultConnectTimeout)
	}
	cfg, err = postgresConfig("postgres://u@127.0.0.1:5432/db?sslmode=disable&connect_timeout=2", 0)
	if err != nil || cfg.ConnectTimeout != 2*time.Second {
		t.Errorf("connect_timeout=2 gave %v, %v; want 2s", cfg.ConnectTimeout, err)
	}
	_, err = postgresConfig("postgres://u:hunter2@host:notaport/db", 0)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("malformed URL: %v, want an error naming DATABASE_URL without the password", err)
	}
}

// TestConnectingToAStalledServerGivesUp connects through a stalled proxy
// with no deadline of the caller's: the connect timeout ends the wait.
func TestConnectingToAStalledServerGivesUp(t *testing.T) {
	t.Parallel()
	p := sqltest.NewFaultProxy(t, sqltest.PostgresURL(t))
	db, _, err := Open(t.Context(), Options{DatabaseURL: p.URL()})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	p.Stall()
	t.Cleanup(p.Resume)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- sqlDB.PingContext(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(translate(err), ports.ErrUnavailable) {
			t.Errorf("Ping through a stall = %v, want an error translated to ports.ErrUnavailable", err)
		}
		t.Logf("connecting to a stalled server gave up after %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(3 * defaultConnectTimeout):
		t.Fatalf("Ping through a stall still waits after %s: no connect timeout", 3*defaultConnectTimeout)
	}
}

// TestDeadlineErrorsAreUnavailable collects the errors a passed deadline or
// a server-side timeout really produces and wants each translated to
// ports.ErrUnavailable (503), never passed on as an unknown error (500).
func TestDeadlineErrorsAreUnavailable(t *testing.T) {
	t.Parallel()
	base := sqltest.PostgresURL(t)
	db := openPostgresForTest(t, Options{DatabaseURL: base, QueryTimeout: 300 * time.Millisecond})
	u := fenceUser(t, "locked")
	if err := NewUsers(db).Add(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	errs := map[string]error{}

	errs["statement_timeout"] = db.WithContext(t.Context()).Exec("SELECT pg_sleep(2)").Error

	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	lock, err := admin.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(t.Context(), "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", u.ID().String()); err != nil {
		t.Fatal(err)
	}
	// statement_timeout counts a lock wait too; a longer one (set in the URL)
	// lets lock_timeout fire first.
	lockDB := openPostgresForTest(t, Options{DatabaseURL: base + "&statement_timeout=5000", QueryTimeout: 300 * time.Millisecond})
	errs["lock_timeout"] = NewUsers(lockDB).Update(t.Context(), u.ID(), func(*user.User) error { return nil })
	_ = lock.Rollback(t.Context())

	idle, err := sqlDB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.QueryRowContext(t.Context(), "SELECT 1").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	// The server's timer ends the idle transaction's session; watch for it
	// from the admin connection, which leaves the timer alone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var idleTx int
		if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'").Scan(&idleTx); err != nil {
			t.Fatal(err)
		}
		if idleTx == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle transaction outlived idle_in_transaction_session_timeout")
		}
		time.Sleep(50 * time.Millisecond)
	}
	errs["idle_in_transaction_session_timeout"] = idle.QueryRowContext(t.Context(), "SELECT 1").Scan(new(int))
	_ = idle.Rollback()

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	cancel()
	time.Sleep(50 * time.Millisecond) // database/sql rolls back in its own goroutine
	_, errs["transaction ended by its context"] = tx.ExecContext(t.Context(), "SELECT 1")

	errs["write fence"] = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT set_config('usersvc.write_deadline', ?, true)", time.Now().Add(-time.Second).UTC().Format(fenceFormat)).Error; err != nil {
			return err
		}
		return tx.Exec("UPDATE users SET full_name = 'Late' WHERE id = ?", u.ID().String()).Error
	})

	dir := sqltest.SQLiteDir(t)
	lite, _, err := Open(t.Context(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	liteDB, _ := lite.DB()
	defer liteDB.Close()
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	errs["SQLite statement interrupted"] = lite.WithContext(ctx).Exec(
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n").Error

	for name, err := range errs {
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !errors.Is(translate(err), ports.ErrUnavailable) {
			t.Errorf("%s: %v (%T) is not translated to ports.ErrUnavailable", name, err, err)
		}
	}
}

func TestSQLiteBusyTimeoutIsAtMostQueryTimeout(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		query time.Duration
		want  string
	}{{0, "5000"}, {1500 * time.Millisecond, "1500"}, {time.Minute, "5000"}} {
		dir := sqltest.SQLiteDir(t)
		db, _, err := Open(t.Context(), Options{DataDir: dir, QueryTimeout: c.query})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.Raw("PRAGMA busy_timeout").Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("QueryTimeout %s: busy_timeout %s, want %s", c.query, got, c.want)
		}
		sqlDB, _ := db.DB()
		_ = sqlDB.Close()
	}
}
