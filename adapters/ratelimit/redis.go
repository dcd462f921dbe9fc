package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"example.com/usersvc/ports"
)

// gcraScript is one GCRA step, atomic in Redis. KEYS[1] holds the key's
// theoretical arrival time (TAT) in microseconds of Redis server time, so the
// clocks of the service instances do not matter. ARGV: emission interval and
// burst tolerance in microseconds. It records the event and returns 0 when it
// is allowed, else records nothing and returns how many microseconds until it
// would be. A recorded key expires when its TAT passes, at most one window
// after its last event. Times stay below 2^53 µs, exact in Lua's doubles,
// until the year 2255.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local nxt = tat + interval
local wait = nxt - now - burst
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%d', nxt),
  'PX', string.format('%d', math.ceil((nxt - now) / 1000)))
return 0
`)

// refundScript undoes one GCRA step, atomic in Redis: it moves the TAT in
// KEYS[1] back by the emission interval ARGV[1] (microseconds) and deletes
// the key once that is not after now, as an idle key is. A missing key stays
// missing. It returns 0.
var refundScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tat - tonumber(ARGV[1])
if nxt <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', nxt),
    'PX', string.format('%d', math.ceil((nxt - now) / 1000)))
end
return 0
`)

// Redis is the ports.RateLimiter kept in Redis: every instance of the service
// that uses the same Redis database and prefix shares one budget per key.
// Each call is one round trip running a Lua script, so counting is atomic
// across instances. It is safe for concurrent use.
//
// Any failure of Redis (refused, timed out, pool exhausted, an error reply)
// is returned wrapping ports.ErrUnavailable; the wrapped chain also keeps the
// client's error, so errors.Is still tells context.Canceled apart.
type Redis struct {
	client *redis.Client
	prefix string
}

var _ ports.RateLimiter = (*Redis)(nil)

// NewRedis returns a Redis limiter on client, which must not be nil. Its keys
// in Redis are prefix followed by the caller's key, with nothing in between
// (so end prefix with a separator, as in "usersvc:rl:"); two limiters with
// the same prefix on one database share their budgets. Timeouts and retries
// are the client's.
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// NewRedisFromURL returns a Redis limiter on a new client for rawURL, in
// redis.ParseURL's form (redis://[user:password@]host:port/db, rediss:// for
// TLS, options such as dial_timeout as query parameters). It only parses:
// a down server shows at the first call (or Ping). Its error never contains
// the URL. The caller closes the limiter with Close.
func NewRedisFromURL(rawURL, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		var uerr *url.Error // its text quotes the URL, password and all
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("ratelimit: redis URL: %w", err)
	}
	return NewRedis(redis.NewClient(opt), prefix), nil
}

// Allow records one event for key and reports whether it is within l. When
// it is not, nothing is recorded and retryAfter is the whole number of
// seconds (at least one) until an event would be allowed. An Off limit
// always allows without a round trip. Failures wrap ports.ErrUnavailable.
func (r *Redis) Allow(ctx context.Context, key string, l ports.Limit) (bool, time.Duration, error) {
	if l.Off() {
		return true, 0, nil
	}
	interval, burst := emission(l, time.Microsecond)
	wait, err := gcraScript.Run(ctx, r.client, []string{r.prefix + key}, interval, burst).Int64()
	if err != nil {
		return false, 0, unavailable(err)
	}
	if wait == 0 {
		return true, 0, nil
	}
	return false, retryAfter(time.Duration(wait) * time.Microsecond), nil
}

// Refund gives back one event Allow recorded for key under l, in one round
// trip: the key's theoretical arrival time moves back by one emission
// interval, and the key is deleted once that is not after now. A missing key
// stays missing; an Off limit costs no round trip. Failures wrap
// ports.ErrUnavailable.
func (r *Redis) Refund(ctx context.Context, key string, l ports.Limit) error {
	if l.Off() {
		return nil
	}
	interval, _ := emission(l, time.Microsecond)
	if err := refundScript.Run(ctx, r.client, []string{r.prefix + key}, interval).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Ping checks that Redis answers, for a health check or at start-up.
// Failures wrap ports.ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close closes the client, whether NewRedisFromURL made it or it was given
// to NewRedis. The limiter must not be used afterwards.
func (r *Redis) Close() error { return r.client.Close() }

// unavailable wraps a Redis failure. go-redis errors name the server address
// and the reply, never the password or the key.
func unavailable(err error) error {
	return fmt.Errorf("%w: rate limiter: %w", ports.ErrUnavailable, err)
}
