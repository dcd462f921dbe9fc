package ratelimit_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"example.com/usersvc/adapters/ratelimit"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/portstest"
)

// redisURL is TEST_REDIS_URL, by default the local server.
func redisURL() string {
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		return url
	}
	return "redis://127.0.0.1:6379/0"
}

// redisClient connects to redisURL. When Redis does not answer the test is
// skipped, or fails when CI=true.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		tb.Fatal("TEST_REDIS_URL does not parse")
	}
	client := redis.NewClient(opt)
	tb.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis at TEST_REDIS_URL is required in CI: %v", err)
		}
		tb.Skipf("Redis at TEST_REDIS_URL not reachable: %v", err)
	}
	return client
}

// freshPrefix returns a key prefix no other test uses and deletes every key
// under it when the test ends.
func freshPrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
	prefix := "usersvc-test:rl:" + rand.Text() + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	client := redisClient(t)
	portstest.RateLimiter(t, func(t *testing.T) ports.RateLimiter {
		return ratelimit.NewRedis(client, freshPrefix(t, client))
	})
}

// TestRedisInstancesShareBudget stands for several service instances: two
// limiters, each with its own connection pool, on one prefix.
func TestRedisInstancesShareBudget(t *testing.T) {
	probe := redisClient(t)
	prefix := freshPrefix(t, probe)
	var instances [2]*ratelimit.Redis
	for i := range instances {
		rl, err := ratelimit.NewRedisFromURL(redisURL(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rl.Close() })
		instances[i] = rl
	}
	l := ports.Limit{Events: 5, Window: time.Minute}
	allowed := 0
	for i := range 20 {
		if ok, _ := allow(t, instances[i%2], "login-ip:203.0.113.7", l); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("%d of 20 events allowed across two instances, want 5", allowed)
	}
	// A Refund on one instance gives the event back to both.
	if err := instances[0].Refund(t.Context(), "login-ip:203.0.113.7", l); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allow(t, instances[1], "login-ip:203.0.113.7", l); !ok {
		t.Fatal("the event one instance gave back is still spent on the other")
	}
	for i, rl := range instances {
		if ok, _ := allow(t, rl, "login-ip:203.0.113.7", l); ok {
			t.Fatalf("instance %d allowed an event over the shared budget", i)
		}
	}
	// Another prefix is another budget.
	other := ratelimit.NewRedis(probe, freshPrefix(t, probe))
	if ok, _ := allow(t, other, "login-ip:203.0.113.7", l); !ok {
		t.Fatal("a limiter with another prefix shares the budget")
	}
}

// TestRedisKeysExpire checks the stored key: namespaced by the prefix,
// expiring within the window, so idle keys cost Redis nothing, and gone once
// Refund gave back every event.
func TestRedisKeysExpire(t *testing.T) {
	client := redisClient(t)
	prefix := freshPrefix(t, client)
	rl := ratelimit.NewRedis(client, prefix)
	l := ports.Limit{Events: 10, Window: 15 * time.Minute}
	if err := rl.Refund(t.Context(), "failed-login:alice", l); err != nil {
		t.Fatalf("Refund of a fresh key: %v", err)
	}
	if n := client.Exists(t.Context(), prefix+"failed-login:alice").Val(); n != 0 {
		t.Fatal("Refund of a fresh key stored a key")
	}
	for range 3 {
		allow(t, rl, "failed-login:alice", l)
	}
	ttl, err := client.PTTL(t.Context(), prefix+"failed-login:alice").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Three events of ten in 15 minutes are 3 × 90 s of debt.
	if ttl < 260*time.Second || ttl > 270*time.Second {
		t.Fatalf("key TTL %v, want about 270s (three 90-second intervals)", ttl)
	}
	keys, err := client.Keys(t.Context(), prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys under the prefix: %v, %v; want exactly one", keys, err)
	}
	// A Refund shortens the TTL by one interval; the last one deletes the key.
	if err := rl.Refund(t.Context(), "failed-login:alice", l); err != nil {
		t.Fatal(err)
	}
	if ttl, err := client.PTTL(t.Context(), prefix+"failed-login:alice").Result(); err != nil || ttl < 170*time.Second || ttl > 180*time.Second {
		t.Fatalf("key TTL %v (%v) after one Refund, want about 180s", ttl, err)
	}
	for range 2 {
		if err := rl.Refund(t.Context(), "failed-login:alice", l); err != nil {
			t.Fatal(err)
		}
	}
	if n := client.Exists(t.Context(), prefix+"failed-login:alice").Val(); n != 0 {
		t.Fatal("the key is still stored after every event was given back")
	}
}

func TestRedisUnavailable(t *testing.T) {
	// Nothing listens on port 1; no retries, so the failure is quick.
	rl, err := ratelimit.NewRedisFromURL("redis://app:s3cret@127.0.0.1:1/0?dial_timeout=300ms&max_retries=-1", "rl:")
	if err != nil {
		t.Fatalf("NewRedisFromURL: %v", err)
	}
	t.Cleanup(func() { _ = rl.Close() })
	l := ports.Limit{Events: 5, Window: time.Minute}
	calls := map[string]func(ctx context.Context) error{
		"Allow": func(ctx context.Context) error {
			ok, _, err := rl.Allow(ctx, "k", l)
			if ok {
				t.Error("Allow allowed with Redis down")
			}
			return err
		},
		"Refund": func(ctx context.Context) error { return rl.Refund(ctx, "k", l) },
		"Ping":   func(ctx context.Context) error { return rl.Ping(ctx) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call(t.Context())
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("%s with Redis down: %v, want ports.ErrUnavailable", name, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s took %v to fail", name, took)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s error shows the password: %v", name, err)
		}
	}

	// An Off limit never reaches Redis, so it allows even now.
	if ok, _, err := rl.Allow(t.Context(), "k", ports.Limit{}); !ok || err != nil {
		t.Fatalf("Off limit with Redis down: ok=%v err=%v, want allowed", ok, err)
	}
	if err := rl.Refund(t.Context(), "k", ports.Limit{}); err != nil {
		t.Fatalf("Refund of an Off limit with Redis down: %v, want nil", err)
	}
}

func TestNewRedisFromURLHidesPassword(t *testing.T) {
	for _, url := range []string{
		"redis://app:s3cret@host:port/0",   // url.Parse fails, quoting the URL
		"http://app:s3cret@127.0.0.1:6379", // wrong scheme
		"redis://app:s3cret@127.0.0.1:6379/x",
		"redis://app:s3cret@127.0.0.1:6379/0?dial_timeout=soon",
		"127.0.0.1:6379",
	} {
		rl, err := ratelimit.NewRedisFromURL(url, "rl:")
		if err == nil {
			_ = rl.Close()
			t.Errorf("NewRedisFromURL(%q) accepted it", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewRedisFromURL(%q) error shows the password: %v", url, err)
		}
	}
}

// BenchmarkRedisAllow measures Allow against TEST_REDIS_URL: the latency of
// one call at a time, and throughput from many goroutines over 10,000 keys.
func BenchmarkRedisAllow(b *testing.B) {
	client := redisClient(b)
	rl := ratelimit.NewRedis(client, freshPrefix(b, client))
	l := ports.Limit{Events: 10, Window: time.Minute}
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprint("login-ip:10.0.", i/256, ".", i%256)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, _, err := rl.Allow(b.Context(), names[i%len(names)], l); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Uint64
		b.ReportAllocs()
		b.SetParallelism(8) // goroutines per CPU: a round trip is mostly waiting
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := names[n.Add(1)%uint64(len(names))]
				if _, _, err := rl.Allow(b.Context(), key, l); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
