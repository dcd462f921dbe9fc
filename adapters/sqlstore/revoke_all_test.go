package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/domain/user"
)

// TestAStartDuringAnAccountDeletionIsNotLeftLive runs a login's Start
// between the RevokeAll and the Delete of an account deletion on
// PostgreSQL: the Start must wait for the deletion (RevokeAll holds the
// user's row, as Start does) and then fail with user.ErrNotFound, rather
// than commit a session that the deletion neither revoked nor announced,
// left live with no user behind it.
func TestAStartDuringAnAccountDeletionIsNotLeftLive(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), QueryTimeout: 10 * time.Second})
	rev := sqlstore.NewRevocations(db, sqlstore.RevocationOptions{Horizon: time.Hour})
	users, sessions, tx := sqlstore.NewUsers(db), sqlstore.NewSessions(db, rev), sqlstore.NewTransactor(db)
	u := testUser(t, "doomed", "h")
	if err := users.Add(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	late := user.Session{ID: user.SessionID(uuid.New()), UserID: u.ID(), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		LastUsedAt: t0, Current: user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}}

	started := make(chan error, 1)
	var startDone bool
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		if _, err := sessions.RevokeAll(ctx, u.ID(), t0); err != nil {
			return err
		}
		go func() { _, err := sessions.Start(t.Context(), late, 0); started <- err }()
		// Go on once the Start has either committed or is waiting for a
		// lock (then it can only wait for this transaction).
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case err := <-started:
				started <- err
				startDone = true
			default:
			}
			var waiting int64
			if err := db.WithContext(t.Context()).Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").
				Scan(&waiting).Error; err != nil {
				return err
			}
			if startDone || waiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the Start neither finished nor waited for a lock within 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return users.Delete(ctx, u.ID())
	})
	if err != nil {
		t.Fatalf("the deletion: %v", err)
	}
	select {
	case err := <-started:
		if !errors.Is(err, user.ErrNotFound) {
			t.Errorf("Start during the deletion = %v (finished before the deletion: %v), want user.ErrNotFound", err, startDone)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Start did not end after the deletion committed")
	}
	var live int64
	if err := db.Table("sessions").Where("revoked_at IS NULL").Count(&live).Error; err != nil || live != 0 {
		t.Errorf("live sessions after the deletion: %d (%v), want 0", live, err)
	}
}
