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
// retryAfter is allowed; Allow and Exhausted of an Off limit never refuse and
// leave no trace; concurrent calls on one key never overspend it.
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
		{"ExhaustedDoesNotCount", testRateExhaustedDoesNotCount},
		{"OffNeverRefuses", testRateOff},
		{"WaitingRetryAfterIsEnough", testRateRetryAfterIsEnough},
		{"BudgetReturnsAfterWindow", testRateBudgetReturns},
		{"ConcurrentAllowsNeverOverspend", testRateConcurrent},
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

// rateExhausted is rateAllow for Exhausted.
func rateExhausted(t *testing.T, rl ports.RateLimiter, key string, l ports.Limit) (bool, time.Duration) {
	t.Helper()
	ex, retry, err := rl.Exhausted(t.Context(), key, l)
	if err != nil {
		t.Fatalf("Exhausted(%q, %+v): %v", key, l, err)
	}
	rateCheckRetry(t, "Exhausted", !ex, retry, l)
	return ex, retry
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
	if ex, _ := rateExhausted(t, rl, "login-ip:203.0.113.8", l); ex {
		t.Fatal("a second key is exhausted by the first key's events")
	}
	if got := rateAllowN(t, rl, "login-ip:203.0.113.8", l, 4); got != 2 {
		t.Fatalf("second key: %d of 4 allowed, want 2", got)
	}
	if ex, _ := rateExhausted(t, rl, "login-ip:203.0.113.7", l); !ex {
		t.Fatal("first key no longer exhausted after the second key's events")
	}
}

func testRateExhaustedDoesNotCount(t *testing.T, rl ports.RateLimiter) {
	l := ports.Limit{Events: 2, Window: time.Minute}
	for range 10 {
		if ex, _ := rateExhausted(t, rl, "k", l); ex {
			t.Fatal("fresh key exhausted")
		}
	}
	if got := rateAllowN(t, rl, "k", l, 2); got != 2 {
		t.Fatalf("%d of 2 allowed after 10 Exhausted calls, want 2: Exhausted counted", got)
	}
	ex, retry := rateExhausted(t, rl, "k", l)
	if !ex {
		t.Fatal("not exhausted after the whole budget was used")
	}
	if ex2, retry2 := rateExhausted(t, rl, "k", l); !ex2 || retry2 > retry {
		t.Fatalf("second Exhausted: %v, %v; want true, at most %v", ex2, retry2, retry)
	}
	if rateAllow(t, rl, "k", l) {
		t.Fatal("Allow allowed an event that Exhausted said was over the limit")
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
		ex, _, err := rl.Exhausted(t.Context(), "k", l)
		if err != nil || ex {
			t.Fatalf("Off limit %+v: Exhausted=%v err=%v, want false", l, ex, err)
		}
	}
	// Events under an Off limit left no trace for a real limit on the key.
	if got := rateAllowN(t, rl, "k", ports.Limit{Events: 3, Window: time.Minute}, 3); got != 3 {
		t.Fatalf("%d of 3 allowed after Off events on the key, want 3", got)
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
