package ratelimit_test

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"example.com/usersvc/adapters/ratelimit"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/portstest"
)

func TestMemory(t *testing.T) {
	portstest.RateLimiter(t, func(*testing.T) ports.RateLimiter { return ratelimit.NewMemory(nil) })
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// allow calls Allow and fails the test on an error.
func allow(t *testing.T, rl ports.RateLimiter, key string, l ports.Limit) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := rl.Allow(t.Context(), key, l)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return ok, retry
}

// TestMemoryRefillsOneEventPerInterval pins the GCRA arithmetic on a fake
// clock: a burst of Events, then one more every Window/Events, with
// retryAfter rounded up to whole seconds.
func TestMemoryRefillsOneEventPerInterval(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemory(clock.Now)
	l := ports.Limit{Events: 3, Window: time.Minute} // one event per 20 s

	for i := range 3 {
		if ok, _ := allow(t, m, "k", l); !ok {
			t.Fatalf("burst event %d refused", i+1)
		}
	}
	if ok, retry := allow(t, m, "k", l); ok || retry != 20*time.Second {
		t.Fatalf("4th event: ok=%v retryAfter=%v, want refused, 20s", ok, retry)
	}
	clock.Advance(7500 * time.Millisecond)
	if ok, retry := allow(t, m, "k", l); ok || retry != 13*time.Second {
		t.Fatalf("7.5 s later: ok=%v retryAfter=%v, want refused, 13s (12.5 s rounded up)", ok, retry)
	}
	clock.Advance(12500 * time.Millisecond)
	if ok, _ := allow(t, m, "k", l); !ok {
		t.Fatal("refused once retryAfter had passed")
	}
	if ok, retry := allow(t, m, "k", l); ok || retry != 20*time.Second {
		t.Fatalf("second event after one interval: ok=%v retryAfter=%v, want refused, 20s", ok, retry)
	}
	clock.Advance(time.Minute)
	for i := range 3 {
		if ok, _ := allow(t, m, "k", l); !ok {
			t.Fatalf("after a window idle, event %d refused", i+1)
		}
	}

	// A wait under a second still gives a whole second.
	short := ports.Limit{Events: 4, Window: time.Second}
	for range 4 {
		allow(t, m, "short", short)
	}
	if ok, retry := allow(t, m, "short", short); ok || retry != time.Second {
		t.Fatalf("over a 4/s limit: ok=%v retryAfter=%v, want refused, 1s", ok, retry)
	}
}

// TestMemoryRefundMovesBackOneInterval pins Refund's arithmetic on a fake
// clock: one emission interval back, never before now, and a key whose
// budget is full again is forgotten.
func TestMemoryRefundMovesBackOneInterval(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemory(clock.Now)
	l := ports.Limit{Events: 3, Window: time.Minute} // one event per 20 s

	for range 3 {
		allow(t, m, "k", l)
	}
	if err := m.Refund(t.Context(), "k", l); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(t, m, "k", l); !ok {
		t.Fatal("refused right after a Refund")
	}
	if ok, retry := allow(t, m, "k", l); ok || retry != 20*time.Second {
		t.Fatalf("after using the refunded event: ok=%v retryAfter=%v, want refused, 20s", ok, retry)
	}
	// 50 s later the key owes 10 s; a Refund of 20 s clears it, and no more.
	clock.Advance(50 * time.Second)
	if err := m.Refund(t.Context(), "k", l); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("%d keys tracked after a Refund made the key as good as new, want 0", n)
	}
	for i := range 3 {
		if ok, _ := allow(t, m, "k", l); !ok {
			t.Fatalf("event %d of a full budget refused", i+1)
		}
	}
	if ok, _ := allow(t, m, "k", l); ok {
		t.Fatal("a Refund past now gave more than the full budget")
	}
}

func TestMemoryOffLimitKeepsNoState(t *testing.T) {
	m := ratelimit.NewMemory(nil)
	for i := range 100 {
		if ok, _ := allow(t, m, strconv.Itoa(i), ports.Limit{}); !ok {
			t.Fatal("Off limit refused")
		}
		_ = m.Refund(t.Context(), strconv.Itoa(i), ports.Limit{})
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("%d keys tracked after events under an Off limit, want 0", n)
	}
}

func TestMemoryDropsLapsedKeys(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemory(clock.Now)
	short := ports.Limit{Events: 5, Window: time.Minute}
	long := ports.Limit{Events: 5, Window: time.Hour}
	for i := range 1000 {
		allow(t, m, fmt.Sprint("short:", i), short)
	}
	allow(t, m, "long", long)
	if n := m.Len(); n != 1001 {
		t.Fatalf("%d keys tracked, want 1001", n)
	}
	clock.Advance(time.Minute) // every short key is idle for its window
	if n := m.Len(); n != 1 {
		t.Fatalf("%d keys tracked a window later, want 1 (the long one)", n)
	}
	clock.Advance(time.Hour)
	allow(t, m, "new", short)
	if n := m.Len(); n != 1 {
		t.Fatalf("%d keys tracked, want 1 (the new one)", n)
	}
}

func TestMemoryKeyCap(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemoryMaxKeys(clock.Now, 100)
	l := ports.Limit{Events: 10, Window: 15 * time.Minute}
	for i := range 10_000 {
		if ok, _ := allow(t, m, fmt.Sprint("ip:", i), l); !ok {
			t.Fatalf("first event of key %d refused", i)
		}
		if n := m.Len(); n > 100 {
			t.Fatalf("%d keys tracked after %d distinct keys, cap 100", n, i+1)
		}
		clock.Advance(time.Millisecond)
	}
	// The oldest keys made way for the newest. Under a limit of one event an
	// hour a key with any event tracked is refused; an untracked one is not.
	if ok, _ := allow(t, m, "ip:9999", ports.Limit{Events: 1, Window: time.Hour}); ok {
		t.Fatal("newest key was evicted")
	}
	if ok, _ := allow(t, m, "ip:0", ports.Limit{Events: 1, Window: time.Hour}); !ok {
		t.Fatal("oldest key is still tracked")
	}
}

// TestMemoryFloodKeepsLockedKey shows that a flood of new keys, even past the
// cap, does not lift the lockout of a key that used up its budget.
func TestMemoryFloodKeepsLockedKey(t *testing.T) {
	clock := newFakeClock()
	m := ratelimit.NewMemoryMaxKeys(clock.Now, 1000)
	l := ports.Limit{Events: 10, Window: 15 * time.Minute}
	for range 10 {
		allow(t, m, "failed-login:alice", l)
	}
	for i := range 50_000 {
		allow(t, m, fmt.Sprint("failed-login:spoof", i), l)
	}
	if n := m.Len(); n > 1000 {
		t.Fatalf("%d keys tracked, cap 1000", n)
	}
	if ok, _ := allow(t, m, "failed-login:alice", l); ok {
		t.Fatal("a flood of new keys lifted the lockout of alice")
	}
}

func TestMemoryConcurrentKeys(t *testing.T) {
	m := ratelimit.NewMemoryMaxKeys(nil, 64)
	l := ports.Limit{Events: 5, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint("k", (g*2000+i)%32) // 32 keys shared by all
				if ok, _, _ := m.Allow(t.Context(), key, l); ok {
					allowed.Add(1)
				}
				_ = m.Refund(t.Context(), fmt.Sprint("x", i), l) // untracked: nothing to give back
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 32*5 {
		t.Fatalf("%d events allowed on 32 keys of 5 each, want 160", got)
	}
}

// BenchmarkMemoryAllow measures Allow from parallel goroutines: refusals of
// one hot key, allowed events spread over 10,000 keys, and a flood of new keys
// that each insert and evict at the cap.
func BenchmarkMemoryAllow(b *testing.B) {
	names := make([]string, 200_000)
	for i := range names {
		names[i] = fmt.Sprint("login-ip:10.", i/65536, ".", i/256%256, ".", i%256)
	}
	for _, bc := range []struct {
		name    string
		keys    int
		maxKeys int
		limit   ports.Limit
	}{
		{"refused", 1, ratelimit.DefaultMaxKeys, ports.Limit{Events: 10, Window: time.Minute}},
		{"allowed", 10_000, ratelimit.DefaultMaxKeys, ports.Limit{Events: 1 << 20, Window: 24 * time.Hour}},
		{"new-keys-at-cap", len(names), 10_000, ports.Limit{Events: 10, Window: time.Minute}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := ratelimit.NewMemoryMaxKeys(nil, bc.maxKeys)
			var n atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := names[n.Add(1)%uint64(bc.keys)]
					if _, _, err := m.Allow(b.Context(), key, bc.limit); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
