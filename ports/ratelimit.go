package ports

import (
	"context"
	"time"
)

// Limit is a budget of Events per Window for one key. A Limit with Events 0
// is off: it always allows.
type Limit struct {
	Events int
	Window time.Duration
}

// Off reports whether the limit never refuses.
func (l Limit) Off() bool { return l.Events <= 0 || l.Window <= 0 }

// RateLimiter counts events per key within a time window. "N per window"
// allows a burst of N that refills evenly (one event every window/N). When it
// refuses, retryAfter is greater than 0 and at most the window. Keys are opaque
// strings chosen by the caller (for example "login-ip:203.0.113.7"). It is
// safe for concurrent use, and each call is atomic: concurrent Allows on one
// key never spend more than its budget; an implementation shared by several
// instances (Redis) gives them one budget. Failures to reach its store wrap
// ErrUnavailable.
type RateLimiter interface {
	// Allow records one event for key and reports whether it is within l.
	// When it is not, nothing is recorded and retryAfter is how long until an
	// event would be allowed. A caller that must hold an attempt before it
	// acts (a password comparison) calls Allow first and Refund when the
	// attempt turns out not to count.
	Allow(ctx context.Context, key string, l Limit) (ok bool, retryAfter time.Duration, err error)
	// Refund gives back one event that Allow recorded for key under l, as if
	// it had not been made; the key's budget never grows beyond full, so a
	// Refund of a key with nothing recorded (or whose events have lapsed) does
	// nothing. Call it at most once per allowed event.
	Refund(ctx context.Context, key string, l Limit) error
}
