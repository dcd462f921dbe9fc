package bootstrap_test

// Database faults end to end (issue 7, part 1): the service on PostgreSQL
// with its DATABASE_URL through a fault proxy (sqltest.FaultProxy) that adds
// latency, stalls, cuts, refuses and holds connections. During every fault
// each answer must arrive within faultBound of sending and be a success or a
// 503 problem with Retry-After, never a 500 or no answer; /healthz stays
// 200; /readyz says 503 while the database cannot be reached; and the
// service recovers by itself when the fault ends. A 503 must mean that
// nothing was written, even when the client's last bytes reach the server
// late.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"

	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/bootstrap"
)

// faultBound is the limit: every answer during a database fault
// arrives within it of sending.
const faultBound = 3 * time.Second

// recoveryBound is how soon after a fault ends the service must answer
// normally again, without a restart.
const recoveryBound = 5 * time.Second

// newFaultyApp starts the service on a fresh PostgreSQL database reached
// through a fault proxy, and returns it with the proxy. Options after the
// proxy's see the proxied DATABASE_URL. The proxy heals before the app
// stops, and the app's database/sql pool is put in *pool when pool is not
// nil.
func newFaultyApp(t *testing.T, pool **sql.DB, opts ...option) (*client, *sqltest.FaultProxy) {
	t.Helper()
	var p *sqltest.FaultProxy
	all := []option{withConfig(func(cfg *bootstrap.Config) {
		p = sqltest.NewFaultProxy(t, cfg.DatabaseURL)
		cfg.DatabaseURL = p.URL()
	})}
	if pool != nil {
		all = append(all, withFx(fx.Populate(pool)))
	}
	c := newApp(t, append(all, opts...)...)
	t.Cleanup(p.Heal)
	return c, p
}

// appDB connects to the app's own PostgreSQL database directly, past the
// proxy, to see what was stored.
func appDB(t *testing.T, c *client) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.app.dbURL)
	if err != nil {
		t.Fatalf("connect to the app's database: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// count runs a count(*) query on conn.
func count(t *testing.T, conn *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// timed is one answer and how long it took.
type timed struct {
	what   string
	r      *response
	err    error
	sentAt time.Time
	took   time.Duration
}

// sendTimed sends one request and times it.
func (c *client) sendTimed(what, method, path string, body any, opts ...reqOpt) timed {
	start := time.Now()
	r, err := c.send(method, path, body, opts...)
	return timed{what: what, r: r, err: err, sentAt: start, took: time.Since(start)}
}

// check fails unless a is an answer within faultBound that is success (one
// of ok) or a well-formed 503, and reports whether it was a success.
func (a timed) check(t *testing.T, ok ...int) bool {
	t.Helper()
	switch {
	case a.err != nil:
		t.Errorf("%s: no answer after %s: %v", a.what, a.took, a.err)
		return false
	case a.took > faultBound:
		t.Errorf("%s: answered %d after %s, more than %s", a.what, a.r.Status, a.took, faultBound)
	}
	for _, v := range a.r.contractViolations() {
		t.Errorf("%s → %d: %s\nbody: %.500s", a.what, a.r.Status, v, a.r.Body)
	}
	if a.r.Status == http.StatusServiceUnavailable {
		return false
	}
	if !slices.Contains(ok, a.r.Status) {
		t.Errorf("%s: status %d, want one of %v or 503\nbody: %.500s", a.what, a.r.Status, ok, a.r.Body)
		return false
	}
	return true
}

// member is an account a workload acts for, and what its client knows.
type member struct {
	name     string
	access   string
	refresh  string // the last refresh cookie the service handed out
	fullName string // the last full name the service confirmed; "" for none
}

// outcome is what a workload saw.
type outcome struct {
	answers        int
	successes      int
	refusedSignups []string // usernames whose signup answered 503
	first503       time.Duration
}

// fullNames are valid full names for PATCH; the workload cycles them.
var fullNames = []string{"Ann Able", "Ben Baker", "Cat Cole", "Dan Dyer", "Eve East"}

// newMembers signs up n accounts named prefix0, prefix1, ...
func newMembers(c *client, prefix string, n int) []*member {
	c.t.Helper()
	var out []*member
	for i := range n {
		name := fmt.Sprintf("%s%d", prefix, i)
		s := c.signup(name)
		out = append(out, &member{name: name, access: s.access, refresh: s.refresh})
	}
	return out
}

// runWorkload has one client per member send, one after another until
// window has passed, a mix of signup, login, refresh, GET /me and PATCH,
// and checks every answer (timed.check). A member's refresh cookie and full
// name follow the answers that succeeded.
func runWorkload(t *testing.T, c *client, members []*member, window time.Duration) outcome {
	t.Helper()
	var (
		mu  sync.Mutex
		out outcome
		wg  sync.WaitGroup
	)
	end := time.Now().Add(window)
	for w, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				var (
					a      timed
					ok     bool
					signup string
				)
				switch (w + i) % 5 {
				case 0:
					signup = fmt.Sprintf("%sx%d", m.name, i)
					a = c.sendTimed("signup", http.MethodPost, base+"/signup", credentials{Username: signup, Password: goodPassword})
					ok = a.check(t, http.StatusCreated)
				case 1:
					a = c.sendTimed("login", http.MethodPost, base+"/login", map[string]string{"username": m.name, "password": goodPassword})
					ok = a.check(t, http.StatusOK)
				case 2:
					a = c.sendTimed("refresh", http.MethodPost, base+"/refresh", nil, withCookie(m.refresh))
					if ok = a.check(t, http.StatusOK); ok {
						if ck := a.r.refreshCookie(); ck != nil {
							m.refresh = ck.Value
						}
					}
				case 3:
					a = c.sendTimed("me", http.MethodGet, base+"/me", nil, bearer(m.access))
					ok = a.check(t, http.StatusOK)
				case 4:
					name := fullNames[(w+i)%len(fullNames)]
					a = c.sendTimed("patch", http.MethodPatch, base, map[string]any{"full_name": name}, bearer(m.access))
					if ok = a.check(t, http.StatusOK); ok {
						m.fullName = name
					}
				}
				mu.Lock()
				out.answers++
				if ok {
					out.successes++
				}
				if a.err == nil && a.r.Status == http.StatusServiceUnavailable {
					if out.first503 == 0 {
						out.first503 = a.took
					}
					if signup != "" {
						out.refusedSignups = append(out.refusedSignups, signup)
					}
				}
				mu.Unlock()
				if a.err != nil {
					return
				}
				time.Sleep(25 * time.Millisecond) // pace: an unreachable database answers 503 at once
			}
		}()
	}
	wg.Wait()
	return out
}

// probe is one answer of /healthz or /readyz.
type probe struct {
	status     int
	start, end time.Time
}

// probeOps polls /healthz and /readyz until stop is closed, checks that
// /healthz answers 200 within faultBound every time, and returns the
// /readyz answers.
func probeOps(t *testing.T, c *client, stop <-chan struct{}) (readyz func() []probe) {
	t.Helper()
	var (
		mu     sync.Mutex
		probes []probe
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			h := c.sendTimed("/healthz", http.MethodGet, "/healthz", nil)
			if h.err != nil || h.r.Status != http.StatusOK || h.took > faultBound {
				t.Errorf("/healthz during a database fault: %v after %s (%v); want 200", h.r, h.took, h.err)
			}
			r := c.sendTimed("/readyz", http.MethodGet, "/readyz", nil)
			if r.err != nil || r.took > faultBound {
				t.Errorf("/readyz during a database fault: no answer within %s (%s, %v)", faultBound, r.took, r.err)
				continue
			}
			mu.Lock()
			probes = append(probes, probe{status: r.r.Status, start: r.sentAt, end: r.sentAt.Add(r.took)})
			mu.Unlock()
		}
	}()
	return func() []probe {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(probes)
	}
}

// wantReadyzDown fails unless every /readyz probe that ran wholly within
// [from, to] answered 503, and at least one did.
func wantReadyzDown(t *testing.T, probes []probe, from, to time.Time) {
	t.Helper()
	n := 0
	for _, p := range probes {
		if p.start.Before(from) || p.end.After(to) {
			continue
		}
		n++
		if p.status != http.StatusServiceUnavailable {
			t.Errorf("/readyz answered %d while the database was unreachable; want 503", p.status)
		}
	}
	if n == 0 {
		t.Error("no /readyz probe ran while the database was unreachable")
	}
}

// wantRecovered fails unless, within recoveryBound of now, /readyz says 200
// and every member gets its profile and logs in.
func wantRecovered(t *testing.T, c *client, members []*member) {
	t.Helper()
	start := time.Now()
	eventually(t, recoveryBound, "the service answering normally after the fault", func() bool {
		r, err := c.send(http.MethodGet, "/readyz", nil)
		if err != nil || r.Status != http.StatusOK {
			return false
		}
		for _, m := range members {
			r, err := c.send(http.MethodGet, base+"/me", nil, bearer(m.access))
			if err != nil || r.Status != http.StatusOK {
				return false
			}
		}
		return true
	})
	t.Logf("recovered %s after the fault ended", time.Since(start).Round(time.Millisecond))
	for _, m := range members {
		c.login(m.name, goodPassword)
	}
}

// TestDatabaseStallAnswers503WithinTheDeadline stalls every connection to
// PostgreSQL (nothing forwarded, nothing closed) for longer than
// DB_QUERY_TIMEOUT while clients keep sending: every answer is a 503 within
// the bound, /readyz is 503, and after the stall nothing that was answered
// 503 turns out written, even though the buffered bytes all reach the
// server when the stall ends.
func TestDatabaseStallAnswers503WithinTheDeadline(t *testing.T) {
	var pool *sql.DB
	// No grace: a refresh that rotated behind a 503 would make the kept
	// cookie count as theft.
	c, p := newFaultyApp(t, &pool, withGrace(0))
	members := newMembers(c, "Stalled", 4)

	p.Stall()
	stalledAt := time.Now()
	stop := make(chan struct{})
	readyz := probeOps(t, c, stop)

	// The figure: how long a request waits on a stalled database.
	first := c.sendTimed("me", http.MethodGet, base+"/me", nil, bearer(members[0].access))
	if first.check(t, http.StatusOK) {
		t.Fatal("GET /me succeeded while the database was stalled")
	}
	t.Logf("time to 503 under a stall: %s (DB_QUERY_TIMEOUT %s)", first.took.Round(time.Millisecond), bootstrap.Defaults().DBQueryTimeout)

	out := runWorkload(t, c, members, 2500*time.Millisecond)
	close(stop)
	probes := readyz()
	resumedAt := time.Now()
	p.Resume()
	if out.successes != 0 {
		t.Errorf("%d requests succeeded while the database was stalled", out.successes)
	}
	t.Logf("%d answers during the stall, all 503; slowest allowed %s", out.answers, faultBound)
	wantReadyzDown(t, probes, stalledAt, resumedAt)
	wantRecovered(t, c, members)

	// What the clients sent during the stall reached the server when it
	// ended; wait until the connections they gave up on have closed, that is
	// until the server has read and refused all of it.
	eventually(t, 20*time.Second, "the abandoned connections to close", func() bool {
		const listener = 1 // the revocation listener's own connection
		return p.Connections() <= pool.Stats().OpenConnections+listener
	})
	for _, m := range members {
		// The cookie from before the stall still refreshes: no 503 rotated it.
		s := c.refresh(m.refresh).wantTokens(t, http.StatusOK)
		me := c.me(s.access)
		if (me.FullName == nil) != (m.fullName == "") || (me.FullName != nil && *me.FullName != m.fullName) {
			t.Errorf("%s: full name %v after the stall; a PATCH answered 503 was stored", m.name, me)
		}
	}
	for _, name := range out.refusedSignups {
		c.wantNothingWritten(name) // 201: the 503 signup left the name free
	}
}

// TestDatabaseLatencyAnswersInTimeOrWith503 slows every chunk of bytes to
// and from PostgreSQL: requests whose database work fits in DB_QUERY_TIMEOUT
// succeed, the others answer 503 within the bound, and the service is
// normal again once the latency is gone.
func TestDatabaseLatencyAnswersInTimeOrWith503(t *testing.T) {
	c, p := newFaultyApp(t, nil)
	members := newMembers(c, "Slowed", 4)

	p.Latency(200 * time.Millisecond)
	stop := make(chan struct{})
	readyz := probeOps(t, c, stop)
	out := runWorkload(t, c, members, 3*time.Second)
	close(stop)
	readyz()
	p.Latency(0)
	t.Logf("%d answers under 200 ms latency each way, %d successes, the rest 503", out.answers, out.successes)
	wantRecovered(t, c, members)
	s := c.signup("AfterLatency")
	c.refresh(s.refresh).wantTokens(t, http.StatusOK)
}

// TestDatabaseCutAnswers503AndRecovers cuts every connection to PostgreSQL
// while clients send, then keeps the database unreachable for a while (each
// new connection closed at once): answers are successes or 503 within the
// bound, /readyz is 503 while it is unreachable, and the service recovers
// when it is reachable again.
func TestDatabaseCutAnswers503AndRecovers(t *testing.T) {
	c, p := newFaultyApp(t, nil)
	members := newMembers(c, "Cut", 4)

	stop := make(chan struct{})
	readyz := probeOps(t, c, stop)
	var downAt, upAt time.Time
	faults := make(chan struct{})
	go func() {
		defer close(faults)
		time.Sleep(500 * time.Millisecond)
		p.Cut()
		time.Sleep(500 * time.Millisecond)
		downAt = time.Now()
		p.Down()
		time.Sleep(1500 * time.Millisecond)
		upAt = time.Now()
		p.Up()
	}()
	out := runWorkload(t, c, members, 3500*time.Millisecond)
	<-faults
	close(stop)
	probes := readyz()
	t.Logf("%d answers around cuts and an outage, %d successes, the rest 503", out.answers, out.successes)
	wantReadyzDown(t, probes, downAt, upAt)
	wantRecovered(t, c, members)
	s := c.signup("AfterCut")
	c.refresh(s.refresh).wantTokens(t, http.StatusOK)
}

// TestSignupWhoseCommitArrivesLateWritesNothing holds the signup
// transaction's COMMIT in the network past the request's deadline, then
// delivers it: the signup answered 503, so the server must refuse the
// COMMIT, and the username stays free. The database URL lengthens the
// idle-transaction timeout, which would otherwise end the held transaction
// first: here only the write fence stands between the late COMMIT and the
// data.
func TestSignupWhoseCommitArrivesLateWritesNothing(t *testing.T) {
	c, p := newFaultyApp(t, nil, withConfig(func(cfg *bootstrap.Config) {
		cfg.DatabaseURL += "&idle_in_transaction_session_timeout=60000"
	}))
	db := appDB(t, c)

	held := p.HoldWhen([]byte("commit"))
	a := c.sendTimed("signup", http.MethodPost, base+"/signup", credentials{Username: "Latecomer", Password: goodPassword})
	if a.check(t, http.StatusCreated) {
		t.Fatal("the signup succeeded with its COMMIT held")
	}
	select {
	case <-held:
	default:
		t.Fatal("no COMMIT was held: the test tested nothing")
	}
	select {
	case <-p.Release():
	case <-time.After(30 * time.Second):
		t.Fatal("the held connection did not end after Release")
	}
	if n := count(t, db, "SELECT count(*) FROM users WHERE username_key = 'latecomer'"); n != 0 {
		t.Errorf("the late COMMIT created the account (%d rows) of a signup answered 503", n)
	}
	if n := count(t, db, "SELECT count(*) FROM sessions"); n != 0 {
		t.Errorf("the late COMMIT created %d session(s)", n)
	}
	c.signup("Latecomer")
}

// TestRefreshWhoseRotationArrivesLateRotatesNothing holds a refresh's
// rotation UPDATE past the request's deadline, then delivers it: the refresh
// answered 503, so the session must not rotate, and the client's retry with
// the same cookie is a normal refresh, not a replayed token (no grace here,
// so a landed rotation would revoke the session as stolen).
func TestRefreshWhoseRotationArrivesLateRotatesNothing(t *testing.T) {
	c, p := newFaultyApp(t, nil, withGrace(0))
	s := c.signup("Rotator")
	_, claims := jwtParts(t, s.refresh)
	jti, _ := claims["jti"].(string)
	if jti == "" {
		t.Fatal("the refresh token has no jti")
	}

	// Only the rotation sends the presented token's id as a parameter.
	held := p.HoldWhen([]byte(jti))
	a := c.sendTimed("refresh", http.MethodPost, base+"/refresh", nil, withCookie(s.refresh))
	if a.check(t, http.StatusOK) {
		t.Fatal("the refresh succeeded with its rotation held")
	}
	select {
	case <-held:
	default:
		t.Fatal("no rotation was held: the test tested nothing")
	}
	select {
	case <-p.Release():
	case <-time.After(30 * time.Second):
		t.Fatal("the held connection did not end after Release")
	}
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK) // the same cookie: no theft
	c.me(next.access)
	c.refresh(next.refresh).wantTokens(t, http.StatusOK)
}

// TestServerEndsATransactionItsClientAbandoned holds a signup's COMMIT and
// never releases it while the test looks at the server: the transaction,
// idle with its uncommitted rows, must end on the server within about
// DB_QUERY_TIMEOUT (idle_in_transaction_session_timeout), not live as long
// as the network stall.
func TestServerEndsATransactionItsClientAbandoned(t *testing.T) {
	c, p := newFaultyApp(t, nil)
	db := appDB(t, c)
	p.HoldWhen([]byte("commit"))
	a := c.sendTimed("signup", http.MethodPost, base+"/signup", credentials{Username: "Abandoned", Password: goodPassword})
	if a.check(t, http.StatusCreated) {
		t.Fatal("the signup succeeded with its COMMIT held")
	}
	eventually(t, faultBound, "the abandoned transaction to end on the server", func() bool {
		return count(t, db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'") == 0
	})
	<-p.Release()
	c.signup("Abandoned")
}

// TestLockWaitAnswers503AndChangesNothing holds the user's row with SELECT
// ... FOR UPDATE on another connection: a PATCH of that user waits for the
// lock, answers 503 within the bound, its statement stops waiting on the
// server too (lock and statement timeouts) while the lock is still held,
// and the row is unchanged.
func TestLockWaitAnswers503AndChangesNothing(t *testing.T) {
	c := newApp(t)
	s := c.signup("Lockee")
	db := appDB(t, c)
	lock, err := db.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(t.Context(), "SELECT 1 FROM users WHERE username_key = 'lockee' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	a := c.sendTimed("patch", http.MethodPatch, base, map[string]any{"full_name": "Never Stored"}, bearer(s.access))
	if a.check(t, http.StatusOK) {
		t.Fatal("the PATCH succeeded while the row was locked")
	}
	watcher := appDB(t, c)
	eventually(t, faultBound, "the PATCH's statement to stop waiting for the lock on the server", func() bool {
		return count(t, watcher, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0
	})
	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	if me := c.me(s.access); me.FullName != nil {
		t.Errorf("the PATCH answered 503 was stored: %v", me)
	}
	c.do(http.MethodPatch, base, map[string]any{"full_name": "Now Stored"}, bearer(s.access)).wantStatus(t, http.StatusOK)
}

// TestLockWaitEndsOnTheServerWhenTheClientIsCutOff is the lock wait of
// TestLockWaitAnswers503AndChangesNothing with the network stalled once the
// PATCH waits for the row: the client's cancel request cannot reach the
// server then, so only the server's own lock and statement timeouts end the
// wait, while the lock is still held and the stall goes on.
func TestLockWaitEndsOnTheServerWhenTheClientIsCutOff(t *testing.T) {
	c, p := newFaultyApp(t, nil)
	s := c.signup("Stuck")
	db := appDB(t, c)
	lock, err := db.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(t.Context(), "SELECT 1 FROM users WHERE username_key = 'stuck' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	answer := make(chan timed, 1)
	go func() {
		answer <- c.sendTimed("patch", http.MethodPatch, base, map[string]any{"full_name": "Never Stored"}, bearer(s.access))
	}()
	watcher := appDB(t, c)
	waiting := func() bool {
		return count(t, watcher, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0
	}
	eventually(t, faultBound, "the PATCH to wait for the row lock", waiting)
	p.Stall()
	if a := <-answer; a.check(t, http.StatusOK) {
		t.Fatal("the PATCH succeeded while the row was locked")
	}
	eventually(t, faultBound, "the server to end the lock wait of a client it cannot hear", func() bool { return !waiting() })
	p.Resume()
	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantRecovered(t, c, nil)
	if me := c.me(s.access); me.FullName != nil {
		t.Errorf("the PATCH answered 503 was stored: %v", me)
	}
}

func TestDBQueryTimeoutSetting(t *testing.T) {
	if d := bootstrap.Defaults().DBQueryTimeout; d != 2*time.Second {
		t.Errorf("default DB_QUERY_TIMEOUT %s, want 2s", d)
	}
	for value, ok := range map[string]bool{"100ms": true, "750ms": true, "1m": true, "50ms": false, "2m": false, "0": false, "soon": false} {
		cfg, err := bootstrap.Load(func(name string) (string, bool) {
			if name == "DB_QUERY_TIMEOUT" {
				return value, true
			}
			return "", false
		})
		if ok && (err != nil || cfg.DBQueryTimeout.String() != mustDuration(t, value).String()) {
			t.Errorf("DB_QUERY_TIMEOUT=%s: %v, %s", value, err, cfg.DBQueryTimeout)
		}
		if !ok && err == nil {
			t.Errorf("DB_QUERY_TIMEOUT=%s accepted, want a configuration error", value)
		}
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
