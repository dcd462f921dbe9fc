package memory_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/domain/user"
)

// store is one DB with the user context's tables on it.
type store struct {
	*memory.UserStore
	db *memory.DB
}

func newStore() *store {
	db := memory.NewDB()
	return &store{UserStore: memory.NewUserStore(db), db: db}
}

func (s *store) Transactor() *memory.Transactor { return s.db.Transactor() }

var (
	t0      = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	errBoom = errors.New("boom")
)

func newUser(t *testing.T, name string) *user.User {
	t.Helper()
	n, err := user.ParseUsername(name)
	if err != nil {
		t.Fatal(err)
	}
	return user.New(user.ID(uuid.New()), n, user.NewPasswordHash("hash"), user.FullName{}, t0)
}

func exists(t *testing.T, s *store, name string) bool {
	t.Helper()
	n, _ := user.ParseUsername(name)
	_, err := s.Users().ByUsername(t.Context(), n)
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestNestedAtomicallyRollsBackOnlyItsOwnWork(t *testing.T) {
	s := newStore()
	tx, users := s.Transactor(), s.Users()
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := users.Add(ctx, newUser(t, "outer")); err != nil {
			return err
		}
		err := tx.Atomically(ctx, func(ctx context.Context) error {
			if err := users.Add(ctx, newUser(t, "inner")); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("inner Atomically = %v, want errBoom", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, s, "outer") || exists(t, s, "inner") {
		t.Errorf("outer stored %v (want true), inner stored %v (want false)", exists(t, s, "outer"), exists(t, s, "inner"))
	}
}

func TestAtomicallyRestoresOnPanic(t *testing.T) {
	s := newStore()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not go on")
			}
		}()
		_ = s.Transactor().Atomically(t.Context(), func(ctx context.Context) error {
			if err := s.Users().Add(ctx, newUser(t, "ghost")); err != nil {
				return err
			}
			panic("fn panicked")
		})
	}()
	if exists(t, s, "ghost") {
		t.Error("a panicking transaction's write remained")
	}
	// The store's lock was released: a plain call does not block.
	if err := s.Users().Add(t.Context(), newUser(t, "after")); err != nil {
		t.Fatal(err)
	}
}

func TestAtomicallyContextIsSafeAcrossGoroutines(t *testing.T) {
	s := newStore()
	err := s.Transactor().Atomically(t.Context(), func(ctx context.Context) error {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { _ = s.Users().Add(ctx, newUser(t, "same")) })
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, s, "same") {
		t.Error("no Add made inside the transaction was stored")
	}
}

func TestAtomicallyIsolatesOtherCallers(t *testing.T) {
	s := newStore()
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Transactor().Atomically(context.Background(), func(ctx context.Context) error {
			if err := s.Users().Add(ctx, newUser(t, "pending")); err != nil {
				return err
			}
			close(inside)
			<-release
			return errBoom
		})
	}()
	<-inside
	seen := make(chan bool, 1)
	go func() {
		n, _ := user.ParseUsername("pending")
		_, err := s.Users().ByUsername(context.Background(), n)
		seen <- err == nil
	}()
	select {
	case <-seen:
		t.Fatal("a caller outside the transaction read while it was open")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; !errors.Is(err, errBoom) {
		t.Fatalf("Atomically = %v, want errBoom", err)
	}
	if <-seen {
		t.Error("the outside caller saw the rolled-back user")
	}
}
