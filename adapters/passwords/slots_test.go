package passwords

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// holdSlot takes h's only slot for the rest of the test.
func holdSlot(t *testing.T, h *Hasher) {
	t.Helper()
	release, err := h.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

func testHasher(wait time.Duration) *Hasher {
	return NewHasher(Params{Memory: 64, Time: 1, MaxConcurrent: 1, QueueWait: wait})
}

func password(t *testing.T) user.Password {
	p, err := user.ContractPolicy(nil).ForCheck("Correct-Horse-9")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBusyAfterQueueWait(t *testing.T) {
	h := testHasher(20 * time.Millisecond)
	stored, err := h.Hash(t.Context(), password(t))
	if err != nil {
		t.Fatal(err)
	}
	holdSlot(t, h)

	_, err = h.Hash(t.Context(), password(t))
	if !errors.Is(err, ports.ErrBusy) {
		t.Errorf("Hash: err = %v, want ports.ErrBusy", err)
	}
	ok, _, err := h.Matches(t.Context(), stored, password(t))
	if !errors.Is(err, ports.ErrBusy) || ok {
		t.Errorf("Matches: ok=%v err=%v, want false ports.ErrBusy", ok, err)
	}
	if strings.Contains(err.Error(), "Correct-Horse-9") || strings.Contains(err.Error(), stored.Reveal()) {
		t.Errorf("error %q echoes a secret", err)
	}
}

func TestContextEndsTheWait(t *testing.T) {
	h := testHasher(time.Minute)
	holdSlot(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := h.Hash(ctx, password(t)); !errors.Is(err, context.Canceled) || errors.Is(err, ports.ErrBusy) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, password(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestBadHashRefusedWithoutWaiting shows that an out-of-bounds hash is
// refused before the call queues for a slot, let alone hashes.
func TestBadHashRefusedWithoutWaiting(t *testing.T) {
	h := testHasher(time.Minute)
	holdSlot(t, h)
	planted := user.NewPasswordHash("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43))
	done := make(chan error, 1)
	go func() {
		_, _, err := h.Matches(t.Context(), planted, password(t))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrHashCost) {
			t.Errorf("err = %v, want ErrHashCost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Matches queued for a slot before checking the hash")
	}
}
