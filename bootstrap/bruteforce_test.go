package bootstrap_test

// End-to-end proofs that guessing under concurrency gets no more than the
// limits allow (issue 7): a burst of logins compares no more passwords than
// the failed-login and per-IP budgets have left, on one instance with the
// memory store and on two instances sharing Redis; and a hashing flood
// answers 503 as often for an unknown username as for an existing one.

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// wrongPassword is a password no test account has.
const wrongPassword = "Wr0ng!Guess"

// burstSize is how many logins a burst sends at once.
const burstSize = 30

// burstBudget is the limit each burst test sets, N per hour: it refills by one
// every 12 minutes, so nothing refills during a test.
const burstBudget = 5

func TestFailedLoginBudgetHoldsUnderABurst(t *testing.T) {
	limited := func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.LimitSignUpPerIP, cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP = ports.Limit{}, ports.Limit{}, ports.Limit{}
		cfg.LimitFailedLogIns = ports.Limit{Events: burstBudget, Window: time.Hour}
	}
	t.Run("memory", func(t *testing.T) {
		n := &comparisons{}
		c := newApp(t, n.option(), withConfig(limited))
		failedLoginBursts(t, n, nil, []*client{c})
	})
	t.Run("redis, two instances", func(t *testing.T) {
		rdb := redisForTest(t)
		n := &comparisons{}
		a := newApp(t, n.option(), withConfig(limited), withConfig(onRedis))
		b := newApp(t, n.option(), withConfig(limited), withConfig(onRedis), sharingDatabaseOf(a))
		failedLoginBursts(t, n, rdb, []*client{a, b})
	})
}

// failedLoginBursts sends, for k = 1 and k = 3 failed logins left to a fresh
// username, a burst of wrong passwords and a burst mixing the right one
// among wrong ones, spread over apps. rdb, when not nil, is the Redis the
// apps keep their budgets in, cleaned up afterwards.
func failedLoginBursts(t *testing.T, n *comparisons, rdb *redis.Client, apps []*client) {
	for _, k := range []int{1, 3} {
		for _, mixed := range []bool{false, true} {
			kind := "wrong passwords"
			if mixed {
				kind = "right and wrong passwords"
			}
			t.Run(fmt.Sprintf("%d left, %s", k, kind), func(t *testing.T) {
				name := "Burst" + hex.EncodeToString(randomBytes(t, 6)) // unique: Redis outlives the test
				if rdb != nil {
					key := "usersvc:rl:login-user:" + strings.ToLower(name)
					t.Cleanup(func() { rdb.Del(context.Background(), key) })
				}
				first, last := apps[0].with(t), apps[len(apps)-1].with(t)
				first.signup(name)
				for range burstBudget - k {
					first.do(http.MethodPost, base+"/login", loginBody(name, wrongPassword)).wantProblem(t, http.StatusUnauthorized)
				}

				before := n.snapshot()
				answers := burst(t, apps, func(i int) (map[string]string, []reqOpt) {
					if mixed && i%3 == 0 {
						return loginBody(name, goodPassword), nil
					}
					return loginBody(name, wrongPassword), nil
				})
				got := n.snapshot().minus(before)
				t.Logf("%d logins at once with %d failed logins left: answers %v; passwords compared: %d wrong, %d right",
					burstSize, k, answers, got.wrong, got.right)

				if got.wrong > int64(k) {
					t.Errorf("%d wrong passwords compared with %d failed logins left", got.wrong, k)
				}
				if got.wrong+got.right < int64(k) {
					t.Errorf("%d passwords compared with %d failed logins left: the limit refused attempts it had", got.wrong+got.right, k)
				}
				if !mixed && got.wrong+got.right != int64(k) {
					t.Errorf("a burst of wrong passwords compared %d passwords with %d failed logins left; want exactly %d", got.wrong+got.right, k, k)
				}
				// Every compared password got its own answer: 200 for the
				// right one, 401 for a wrong one; the rest were refused first.
				if int64(answers[http.StatusOK]) != got.right || int64(answers[http.StatusUnauthorized]) != got.wrong ||
					answers[http.StatusTooManyRequests] != burstSize-int(got.wrong+got.right) {
					t.Errorf("answers %v; want %d × 200 and %d × 401 (one per compared password), the other %d × 429",
						answers, got.right, got.wrong, burstSize-int(got.wrong+got.right))
				}
				if got.notCompared != 0 {
					t.Errorf("%d calls of the hasher failed without comparing", got.notCompared)
				}

				// A success gave its attempt back, a wrong password kept it:
				// the username has exactly k - wrong failures left, on any instance.
				for range int64(k) - got.wrong {
					last.do(http.MethodPost, base+"/login", loginBody(name, wrongPassword)).wantProblem(t, http.StatusUnauthorized)
				}
				want429(t, last.do(http.MethodPost, base+"/login", loginBody(name, goodPassword)))
				want429(t, first.do(http.MethodPost, base+"/login", loginBody(strings.ToUpper(name), goodPassword)))
			})
		}
	}
}

// TestOnlyAWrongPasswordSpendsTheFailedLoginBudget: the attempt a login takes
// before comparing is given back by a success and by a 503 that compared
// nothing, on one instance and across two sharing Redis.
func TestOnlyAWrongPasswordSpendsTheFailedLoginBudget(t *testing.T) {
	limited := func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.LimitSignUpPerIP, cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP = ports.Limit{}, ports.Limit{}, ports.Limit{}
		cfg.LimitFailedLogIns = ports.Limit{Events: 3, Window: time.Hour}
	}
	run := func(t *testing.T, n *comparisons, rdb *redis.Client, a, b *client) {
		name := "Spender" + hex.EncodeToString(randomBytes(t, 6))
		if rdb != nil {
			key := "usersvc:rl:login-user:" + strings.ToLower(name)
			t.Cleanup(func() { rdb.Del(context.Background(), key) })
		}
		a.signup(name)
		for range 2 {
			a.do(http.MethodPost, base+"/login", loginBody(name, wrongPassword)).wantProblem(t, http.StatusUnauthorized)
		}
		for _, c := range []*client{a, b, a, b, a} {
			c.login(name, goodPassword)
		}
		n.busy.Store(true) // no hashing slot frees: 503 before any comparison
		for _, c := range []*client{a, b, a, b, a} {
			c.do(http.MethodPost, base+"/login", loginBody(name, wrongPassword)).wantProblem(t, http.StatusServiceUnavailable)
		}
		n.busy.Store(false)
		b.do(http.MethodPost, base+"/login", loginBody(name, wrongPassword)).wantProblem(t, http.StatusUnauthorized) // the third failure
		want429(t, a.do(http.MethodPost, base+"/login", loginBody(name, goodPassword)))
		want429(t, b.do(http.MethodPost, base+"/login", loginBody(name, goodPassword)))
	}
	t.Run("memory", func(t *testing.T) {
		n := &comparisons{}
		c := newApp(t, n.option(), withConfig(limited))
		run(t, n, nil, c, c)
	})
	t.Run("redis, two instances", func(t *testing.T) {
		rdb := redisForTest(t)
		n := &comparisons{}
		a := newApp(t, n.option(), withConfig(limited), withConfig(onRedis))
		b := newApp(t, n.option(), withConfig(limited), withConfig(onRedis), sharingDatabaseOf(a))
		run(t, n, rdb, a, b)
	})
}

func TestLoginPerIPLimitHoldsUnderABurst(t *testing.T) {
	limited := func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.TrustedProxies = []string{"127.0.0.1"} // each case has a client IP of its own
		cfg.LimitSignUpPerIP, cfg.LimitRefreshPerIP, cfg.LimitFailedLogIns = ports.Limit{}, ports.Limit{}, ports.Limit{}
		cfg.LimitLogInPerIP = ports.Limit{Events: burstBudget, Window: time.Hour}
	}
	t.Run("memory", func(t *testing.T) {
		n := &comparisons{}
		c := newApp(t, n.option(), withConfig(limited))
		perIPBursts(t, n, nil, []*client{c})
	})
	t.Run("redis, two instances", func(t *testing.T) {
		rdb := redisForTest(t)
		n := &comparisons{}
		a := newApp(t, n.option(), withConfig(limited), withConfig(onRedis))
		b := newApp(t, n.option(), withConfig(limited), withConfig(onRedis), sharingDatabaseOf(a))
		perIPBursts(t, n, rdb, []*client{a, b})
	})
}

// perIPBursts sends, for k = 1 and k = 3 logins left to a fresh client IP, a
// burst of logins with the right password from that IP, spread over apps.
func perIPBursts(t *testing.T, n *comparisons, rdb *redis.Client, apps []*client) {
	first := apps[0].with(t)
	name := "PerIP" + hex.EncodeToString(randomBytes(t, 6))
	first.signup(name)
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d left", k), func(t *testing.T) {
			// A random address of 10/8: unique, as Redis outlives the test.
			ip := fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
			if rdb != nil {
				key := "usersvc:rl:login-ip:" + ip
				t.Cleanup(func() { rdb.Del(context.Background(), key) })
			}
			from := header("X-Forwarded-For", ip)
			for range burstBudget - k {
				apps[0].with(t).do(http.MethodPost, base+"/login", loginBody(name, goodPassword), from).wantTokens(t, http.StatusOK)
			}
			before := n.snapshot()
			answers := burst(t, apps, func(int) (map[string]string, []reqOpt) {
				return loginBody(name, goodPassword), []reqOpt{from}
			})
			got := n.snapshot().minus(before)
			t.Logf("%d logins at once from one IP with %d left: answers %v; passwords compared %d", burstSize, k, answers, got.right+got.wrong)
			if got.right+got.wrong != int64(k) || answers[http.StatusOK] != k || answers[http.StatusTooManyRequests] != burstSize-k {
				t.Errorf("%d passwords compared, answers %v; want exactly %d compared, %d × 200 and %d × 429",
					got.right+got.wrong, answers, k, k, burstSize-k)
			}
		})
	}
}

func TestHashingFloodAnswersUnknownAndExistingUsernamesAlike(t *testing.T) {
	n := &comparisons{}
	c := newApp(t, n.option(), withConfig(func(cfg *bootstrap.Config) {
		cfg.HashMaxConcurrent = 1
		cfg.HashQueueWait = 100 * time.Millisecond
		cfg.Argon2MemoryKiB, cfg.Argon2Time = 19456, 2 // OWASP: tens of ms per hash
	}))
	c.signup("Existing")

	// Workers send logins back to back, each alternating the two kinds and
	// half of them starting with each, so both kinds meet the same queue.
	const workers, perWorker = 8, 25
	const flood = workers * perWorker
	existing := func(i int) bool { return (i/perWorker+i%perWorker)%2 == 0 }
	results := make([]*response, flood)
	took := make([]time.Duration, flood)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for j := range perWorker {
				i := w*perWorker + j
				name := "Existing"
				if !existing(i) {
					name = fmt.Sprintf("Nobody%d", i)
				}
				began := time.Now()
				r, err := c.send(http.MethodPost, base+"/login", loginBody(name, wrongPassword))
				took[i] = time.Since(began)
				if err != nil {
					t.Errorf("flood login: %v", err)
					continue
				}
				results[i] = r
			}
		})
	}
	close(start)
	wg.Wait()

	type tally struct {
		statuses map[int]int
		answered int
		took     []time.Duration
	}
	kinds := map[bool]*tally{true: {statuses: map[int]int{}}, false: {statuses: map[int]int{}}}
	for i, r := range results {
		if r == nil {
			continue
		}
		k := kinds[existing(i)]
		k.statuses[r.Status]++
		k.answered++
		k.took = append(k.took, took[i])
		for _, problem := range r.contractViolations() {
			t.Errorf("flood login → %d: %s", r.Status, problem)
		}
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusServiceUnavailable {
			t.Errorf("flood login → %d; want 401 or 503", r.Status)
		}
	}
	share := func(k *tally) float64 {
		return float64(k.statuses[http.StatusServiceUnavailable]) / float64(max(k.answered, 1))
	}
	known, unknown := kinds[true], kinds[false]
	t.Logf("flood of %d logins, one hashing slot: existing username %v (503 share %.1f%%, median %s), unknown username %v (503 share %.1f%%, median %s); hasher calls that compared nothing: %d",
		flood, known.statuses, 100*share(known), median(known.took), unknown.statuses, 100*share(unknown), median(unknown.took), n.snapshot().notCompared)

	if known.statuses[http.StatusServiceUnavailable] < 20 {
		t.Fatalf("only %d logins of an existing username got 503: the flood did not saturate the hashing slots, so it proves nothing",
			known.statuses[http.StatusServiceUnavailable])
	}
	if su, sk := share(unknown), share(known); su < 0.5*sk || su > 2*sk {
		t.Errorf("503 share %.1f%% for unknown usernames and %.1f%% for an existing one; want each within 0.5–2× of the other",
			100*su, 100*sk)
	}
}

// onRedis keeps the rate limits in Redis at TEST_REDIS_URL.
func onRedis(cfg *bootstrap.Config) {
	cfg.RateLimitStore = "redis"
	cfg.RedisURL = redisURL()
}

func loginBody(name, password string) map[string]string {
	return map[string]string{"username": name, "password": password}
}

// burst sends burstSize logins at once, the i-th with the body and options
// request(i) gives, to apps in turn, and counts the answers by status. Every
// answer must keep the contract's rules.
func burst(t *testing.T, apps []*client, request func(i int) (map[string]string, []reqOpt)) map[int]int {
	t.Helper()
	statuses := make([]int, burstSize)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burstSize {
		c := apps[i%len(apps)]
		body, opts := request(i)
		wg.Go(func() {
			<-start
			r, err := c.send(http.MethodPost, base+"/login", body, opts...)
			if err != nil {
				t.Errorf("burst login: %v", err)
				return
			}
			for _, problem := range r.contractViolations() {
				t.Errorf("burst login → %d: %s", r.Status, problem)
			}
			statuses[i] = r.Status
		})
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	for s := range counts {
		if !slices.Contains([]int{http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests}, s) {
			t.Errorf("burst answers %v; want only 200, 401 and 429", counts)
			break
		}
	}
	return counts
}

// comparisons counts what the hashers of one or more apps did with the
// passwords given to Matches: compared and matched, compared and did not
// match, or refused without comparing (no slot, context ended). While busy is
// set, Matches fails with ports.ErrBusy at once, as with no hashing slot free.
type comparisons struct {
	right, wrong, notCompared atomic.Int64
	busy                      atomic.Bool
}

// comparisonCount is a snapshot of comparisons.
type comparisonCount struct{ right, wrong, notCompared int64 }

// option wraps the app's userports.PasswordHasher with a counting decorator.
func (n *comparisons) option() option {
	return withFx(fx.Decorate(func(inner userports.PasswordHasher) userports.PasswordHasher {
		return &countingHasher{inner: inner, n: n}
	}))
}

func (n *comparisons) snapshot() comparisonCount {
	return comparisonCount{right: n.right.Load(), wrong: n.wrong.Load(), notCompared: n.notCompared.Load()}
}

func (c comparisonCount) minus(o comparisonCount) comparisonCount {
	return comparisonCount{right: c.right - o.right, wrong: c.wrong - o.wrong, notCompared: c.notCompared - o.notCompared}
}

// countingHasher is a userports.PasswordHasher that counts its Matches calls.
type countingHasher struct {
	inner userports.PasswordHasher
	n     *comparisons
}

func (h *countingHasher) Hash(ctx context.Context, p user.Password) (user.PasswordHash, error) {
	return h.inner.Hash(ctx, p)
}

func (h *countingHasher) Matches(ctx context.Context, stored user.PasswordHash, p user.Password) (bool, bool, error) {
	if h.n.busy.Load() {
		h.n.notCompared.Add(1)
		return false, false, fmt.Errorf("test: no hashing slot: %w", ports.ErrBusy)
	}
	ok, rehash, err := h.inner.Matches(ctx, stored, p)
	switch {
	case err != nil:
		h.n.notCompared.Add(1)
	case ok:
		h.n.right.Add(1)
	default:
		h.n.wrong.Add(1)
	}
	return ok, rehash, err
}
