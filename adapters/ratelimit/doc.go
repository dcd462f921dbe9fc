// Package ratelimit is the adapter for the ports.RateLimiter port, with two
// implementations: Memory, which keeps its counters in the process (the
// default, for a single instance), and Redis, which keeps them in Redis so
// several instances of the service share one budget per key.
//
// Both use the generic cell rate algorithm (GCRA): a ports.Limit of N events
// per window W lets a key make a burst of N events, after which the budget
// refills at one event every W/N. State is one timestamp per key (its
// theoretical arrival time), so memory per key is constant whatever N is, and
// a key's state disappears once the key is idle for W. Over any long span a
// key averages at most N events per W; a key that is idle for W has its full
// burst of N again. Refused events are not recorded, so hammering a limited
// key does not push its retry time further out. Refund undoes one allowed
// event by moving the timestamp back one interval, never before now, so a
// key's budget never grows beyond full. Both implementations do the
// same arithmetic, so they answer alike and pass one contract suite
// (portstest.RateLimiter).
//
// A refusal's retryAfter is rounded up to a whole second and is at least one
// second, so that it can go into a Retry-After header as it is and a client
// that waits that long is allowed.
//
// It may import domain packages, ports, the standard library and
// github.com/redis/go-redis/v9; never application, bootstrap or another
// adapter. No error of this package contains a key, a Redis URL or a password.
package ratelimit
