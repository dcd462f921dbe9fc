package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// fencedPair opens a fresh PostgreSQL database twice: through a fault proxy
// (the store under test, without server-side timeouts, so that only the
// write fence stands between a late COMMIT and the data) and directly (to
// look at what was stored).
func fencedPair(t *testing.T) (proxied, direct *gorm.DB, p *sqltest.FaultProxy) {
	t.Helper()
	url := sqltest.PostgresURL(t)
	p = sqltest.NewFaultProxy(t, url)
	direct = openMigrated(t, sqlstore.Options{DatabaseURL: url})
	proxied = openMigrated(t, sqlstore.Options{DatabaseURL: p.URL()})
	t.Cleanup(p.Heal)
	return proxied, direct, p
}

// awaitRelease releases p's hold and waits until the held connection has
// ended, that is until the server has read and answered what it kept back.
func awaitRelease(t *testing.T, p *sqltest.FaultProxy) {
	t.Helper()
	select {
	case <-p.Release():
	case <-time.After(30 * time.Second):
		t.Fatal("the held connection did not end after Release")
	}
}

// TestLateCommitIsRefused holds a signup-like transaction's COMMIT in the
// network until after its deadline, as a stalled network or a frozen server
// would, then lets it reach the server: the server must refuse it.
func TestLateCommitIsRefused(t *testing.T) {
	t.Parallel()
	proxied, direct, p := fencedPair(t)
	users, sessions, tx := sqlstore.NewUsers(proxied), sqlstore.NewSessions(proxied, sqlstore.NewRevocations(proxied, sqlstore.RevocationOptions{Horizon: time.Hour})), sqlstore.NewTransactor(proxied)
	u := testUser(t, "late", "h")
	sess := user.Session{ID: user.SessionID(uuid.New()), UserID: u.ID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Current: user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}}

	held := p.HoldWhen([]byte("commit"))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := tx.Atomically(ctx, func(ctx context.Context) error {
		if err := users.Add(ctx, u); err != nil {
			return err
		}
		_, err := sessions.Start(ctx, sess, 0)
		return err
	})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Atomically with its COMMIT held past the deadline = %v, want ports.ErrUnavailable", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("the COMMIT was never held: the test did not test anything")
	}
	awaitRelease(t, p)

	if _, err := sqlstore.NewUsers(direct).ByUsername(t.Context(), u.Username()); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the late COMMIT stored the user (ByUsername = %v)", err)
	}
	var n int64
	if err := direct.Table("sessions").Count(&n).Error; err != nil || n != 0 {
		t.Errorf("sessions after the late COMMIT: %d (%v), want 0", n, err)
	}
	// The pool recovers: the same work, in time, commits.
	if err := tx.Atomically(t.Context(), func(ctx context.Context) error { return users.Add(ctx, u) }); err != nil {
		t.Errorf("Atomically after the fault: %v", err)
	}
}

// TestLateRotationIsRefused holds the rotation UPDATE of a refresh (one
// statement, no transaction) until after its deadline: it must not rotate
// the session, or the client's retry with its cookie would count as theft.
func TestLateRotationIsRefused(t *testing.T) {
	t.Parallel()
	proxied, direct, p := fencedPair(t)
	users, sessions := sqlstore.NewUsers(proxied), sqlstore.NewSessions(proxied, sqlstore.NewRevocations(proxied, sqlstore.RevocationOptions{Horizon: time.Hour}))
	u := testUser(t, "rotor", "h")
	sess := user.Session{ID: user.SessionID(uuid.New()), UserID: u.ID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Current: user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}}
	if err := users.Add(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Start(t.Context(), sess, 0); err != nil {
		t.Fatal(err)
	}
	next := user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour)}
	now := t0.Add(time.Minute)

	// Only the rotation sends the presented token's id as a parameter.
	held := p.HoldWhen([]byte(sess.Current.ID.String()))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, _, err := sessions.Rotate(ctx, sess.ID, sess.Current.ID, next, now, user.Client{}); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Rotate held past the deadline = %v, want ports.ErrUnavailable", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("the rotation was never held: the test did not test anything")
	}
	awaitRelease(t, p)

	var row struct{ RefreshID string }
	if err := direct.Table("sessions").Select("refresh_id").Where("id = ?", sess.ID.String()).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.RefreshID != sess.Current.ID.String() {
		t.Fatalf("the late rotation landed: refresh_id %s, want still %s", row.RefreshID, sess.Current.ID)
	}
	// The presented token still rotates the session, once.
	if _, rotated, err := sessions.Rotate(t.Context(), sess.ID, sess.Current.ID, next, now, user.Client{}); err != nil || !rotated {
		t.Errorf("Rotate after the fault = %v, %v; want rotated", rotated, err)
	}
}
