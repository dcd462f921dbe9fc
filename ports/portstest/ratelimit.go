package portstest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"example.com/usersvc/ports"
)

// RateLimiter runs the contract of ports.RateLimiter against the
// implementation that fresh builds. fresh is called once per subtest and must
// return a limiter with no events recorded, reading the real clock, cleaned
// up with t.Cleanup; subtests run in parallel and some wait a few seconds.
//
// The contract beyond the port's doc comments, which every adapter keeps
// alike: a fresh key is allowed Events events at once and refused the next;
// retryAfter never exceeds the window, however often a refused key retries;
// a key idle for its window has its whole budget again; a caller that waits
// retryAfter is allowed; Allow and Refund of an Off limit never refuse and
// leave no trace; a Refund gives back exactly one event and never more than
// was spent; concurrent calls on one key never overspend it, and concurrent
// Refunds lose none.
// Windows here are whole seconds, so an adapter may round retryAfter up to
// whole seconds.
func RateLimiter(t *testing.T, fresh func(t *testing.T) ports.RateLimiter) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, rl ports.RateLimiter)
	}{
		{"AllowsEventsThenRefuses", testRateAllowsThenRefuses},
		{"KeysAreIndependent", testRateKeysIndependent},
		{"OffNeverRefuses", testRateOff},
		{"WaitingRetryAfterIsEnough", testRateRetryAfterIsEnough},
		{"BudgetReturnsAfterWindow", testRateBudgetReturns},
		{"ConcurrentAllowsNeverOverspend", testRateConcurrent},
		{"RefundGivesBackOneEvent", testRateRefund},
		{"RefundNeverExceedsTheBudget", testRateRefundBounded},
		{"RefundOnlyTouchesItsKey", testRateRefundKeys},
		{"ConcurrentRefundsLoseNone", testRateConcurrentRefunds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, fresh(t))
		})
	}
}

// rateAllow calls Allow and fails the test on an error or, when refused, on a
// retryAfter outside (0, window].
func rateAllow(t *testing.T, rl ports.RateLimiter, key string, l ports.Limit) bool {
	t.Helper()
	ok, retry, err := rl.Allow(t.Context(), key, l)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, l, err)
	}
	rateCheckRetry(t, "Allow", ok, retry, l)
	return ok
}

// rateRefund calls Refund and fails the test on an error.
func rateRefund(t *testing.T, rl ports.RateLimiter, key string, l ports.Limit) {
	t.Helper()
	if err := rl.Refund(t.Context(), key, l); err != nil {
		t.Fatalf("Refund(%q, %+v): %v", key, l, err)
	}
}

func rateCheckRetry(t *testing.T, op string, ok bool, retry time.Duration, l ports.Limit) {
	t.Helper()
	if !ok && (retry <= 0 || retry > l.Window) {
		t.Fatalf("%s refused with retryAfter %v, want in (0, %v]", op, retry, l.Window)
	}
}

// rateAllowN calls rateAllow n times and returns how many were allowed.
func rateAllowN(t *testing.T, rl ports.RateLimiter, key string, l ports.Limit, n int) int {
	t.Helper()
	allowed := 0
	for range n {
		if rateAllow(t, rl, key, l) {
			allowed++
		}
	}
	return allowed
}

func testRateAllowsThenRefuses(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 3, Window: time.Minute}
	for i := range 3 {
		if !rateAllow(t, rl, "k", l) {
			t.Fatalf("event %d of 3 refused", i+1)
		}
	}
	for i := range 5 {
		ok, retry, err := rl.Allow(t.Context(), "k", l)
		if err != nil || ok || retry <= 0 || retry > l.Window {
			t.Fatalf("event %d over the limit: ok=%v retryAfter=%v err=%v, want refused with retryAfter in (0, %v]",
				i+4, ok, retry, err, l.Window)
		}
	}
}

func testRateKeysIndependent(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 2, Window: time.Minute}
	if got := rateAllowN(t, rl, "login-ip:203.0.113.7", l, 4); got != 2 {
		t.Fatalf("first key: %d of 4 allowed, want 2", got)
	}
	if got := rateAllowN(t, rl, "login-ip:203.0.113.8", l, 4); got != 2 {
		t.Fatalf("second key: %d of 4 allowed, want 2: the first key's events counted", got)
	}
	if rateAllow(t, rl, "login-ip:203.0.113.7", l) {
		t.Fatal("first key allowed again after the second key's events")
	}
}

func testRateOff(t *testing.T, rl ports.RateLimiter) {
	for _, l := range []ports.Limit{{}, {Events: 0, Window: time.Minute}, {Events: -1, Window: time.Minute}, {Events: 3}} {
		if !l.Off() {
			t.Fatalf("%+v is not Off", l)
		}
		for i := range 20 {
			ok, _, err := rl.Allow(t.Context(), "k", l)
			if err != nil || !ok {
				t.Fatalf("Off limit %+v, event %d: ok=%v err=%v, want allowed", l, i+1, ok, err)
			}
		}
		for range 20 {
			if err := rl.Refund(t.Context(), "k", l); err != nil {
				t.Fatalf("Refund under Off limit %+v: %v", l, err)
			}
		}
	}
	// Events and refunds under an Off limit left no trace for a real limit
	// on the key: neither spent nor extra budget.
	if got := rateAllowN(t, rl, "k", ports.Limit{Events: 3, Window: time.Minute}, 4); got != 3 {
		t.Fatalf("%d of 4 allowed after Off events on the key, want 3", got)
	}
}

// rateEventually calls allowed until it reports true or, counting from the
// call, within passes; it reports how long that took and whether it happened.
func rateEventually(within time.Duration, allowed func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if allowed() {
			return time.Since(start), true
		}
		if time.Since(start) > within {
			return time.Since(start), false
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func testRateRetryAfterIsEnough(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 2, Window: time.Second}
	rateAllowN(t, rl, "k", l, 2)
	ok, retry, err := rl.Allow(t.Context(), "k", l)
	if err != nil || ok {
		t.Fatalf("third event in a 2-per-second limit: ok=%v err=%v, want refused", ok, err)
	}
	time.Sleep(retry)
	// The wait is bounded: an adapter whose store keeps its own clock (Redis)
	// may be a little behind this one.
	if took, ok := rateEventually(500*time.Millisecond, func() bool { return rateAllow(t, rl, "k", l) }); !ok {
		t.Fatalf("still refused %v after waiting retryAfter %v", took, retry)
	}
}

func testRateBudgetReturns(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 3, Window: time.Second}
	if got := rateAllowN(t, rl, "k", l, 4); got != 3 {
		t.Fatalf("%d of 4 allowed, want 3", got)
	}
	// A store that keeps its own clock (Redis) may lag this one a little.
	time.Sleep(l.Window + 200*time.Millisecond)
	if got := rateAllowN(t, rl, "k", l, 4); got != 3 {
		t.Fatalf("after a whole window idle, %d of 4 allowed, want 3", got)
	}
}

func testRateConcurrent(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 10, Window: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			ok, _, err := rl.Allow(t.Context(), "k", l)
			if err != nil {
				t.Errorf("concurrent Allow: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Fatalf("50 concurrent events in a limit of 10: %d allowed, want exactly 10", got)
	}
}

func testRateRefund(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 3, Window: time.Hour}
	if got := rateAllowN(t, rl, "k", l, 3); got != 3 {
		t.Fatalf("%d of 3 allowed", got)
	}
	if rateAllow(t, rl, "k", l) {
		t.Fatal("4th event of 3 allowed")
	}
	rateRefund(t, rl, "k", l)
	if !rateAllow(t, rl, "k", l) {
		t.Fatal("refused after a Refund: the event was not given back")
	}
	if rateAllow(t, rl, "k", l) {
		t.Fatal("allowed twice after one Refund")
	}
	// Refunding every event leaves the key as good as new.
	for range 3 {
		rateRefund(t, rl, "k", l)
	}
	if got := rateAllowN(t, rl, "k", l, 4); got != 3 {
		t.Fatalf("after refunding all 3 events, %d of 4 allowed, want 3", got)
	}
}

func testRateRefundBounded(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 3, Window: time.Hour}
	// A key with nothing recorded has nothing to give back.
	for range 5 {
		rateRefund(t, rl, "fresh", l)
	}
	if got := rateAllowN(t, rl, "fresh", l, 5); got != 3 {
		t.Fatalf("after 5 Refunds of a fresh key, %d of 5 allowed, want 3", got)
	}
	// More Refunds than events give back only what was spent.
	rateAllow(t, rl, "spent", l)
	for range 5 {
		rateRefund(t, rl, "spent", l)
	}
	if got := rateAllowN(t, rl, "spent", l, 5); got != 3 {
		t.Fatalf("after 1 event and 5 Refunds, %d of 5 allowed, want 3", got)
	}
	// A key whose events lapsed is full; a late Refund adds nothing.
	short := ports.Limit{Events: 2, Window: time.Second}
	rateAllowN(t, rl, "lapsed", short, 2)
	time.Sleep(short.Window + 200*time.Millisecond) // a store with its own clock may lag a little
	rateRefund(t, rl, "lapsed", short)
	rateRefund(t, rl, "lapsed", short)
	if got := rateAllowN(t, rl, "lapsed", short, 4); got != 2 {
		t.Fatalf("after a window idle and 2 late Refunds, %d of 4 allowed, want 2", got)
	}
}

func testRateRefundKeys(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 2, Window: time.Hour}
	rateAllowN(t, rl, "login-user:alice", l, 2)
	rateAllowN(t, rl, "login-user:bob", l, 2)
	rateRefund(t, rl, "login-user:alice", l)
	if rateAllow(t, rl, "login-user:bob", l) {
		t.Fatal("a Refund of alice gave bob an event")
	}
	if !rateAllow(t, rl, "login-user:alice", l) {
		t.Fatal("a Refund of alice did not give alice an event")
	}
}

// testRateConcurrentRefunds takes and gives back events from many goroutines
// at once: no more than the budget is ever held at one time, and once every
// event is given back the key has its whole budget again.
func testRateConcurrentRefunds(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 5, Window: time.Hour}
	var held, peak, allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 40 {
		wg.Go(func() {
			<-start
			for range 5 {
				ok, _, err := rl.Allow(t.Context(), "k", l)
				if err != nil {
					t.Errorf("concurrent Allow: %v", err)
					return
				}
				if !ok {
					continue
				}
				allowed.Add(1)
				n := held.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				held.Add(-1)
				if err := rl.Refund(t.Context(), "k", l); err != nil {
					t.Errorf("concurrent Refund: %v", err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if p := peak.Load(); p > int64(l.Events) {
		t.Fatalf("%d events held at once in a limit of %d", p, l.Events)
	}
	if allowed.Load() <= int64(l.Events) {
		t.Fatalf("only %d of 200 events allowed while each was given back: Refund gave nothing back", allowed.Load())
	}
	if got := rateAllowN(t, rl, "k", l, l.Events+1); got != l.Events {
		t.Fatalf("after every event was given back, %d of %d allowed, want %d", got, l.Events+1, l.Events)
	}
}
