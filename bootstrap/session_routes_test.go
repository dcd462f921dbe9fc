package bootstrap_test

// The caller's sessions end to end, through the real fx app on PostgreSQL
// and SQLite: the list with when and from where each session started or was
// last refreshed, renaming, revoking one or all the others (refused at once
// on user and chat routes, on every instance), the 404 and 409 cases, the
// per-user cap under concurrent logins, and the periodic clean-up.

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

const mySessions = base + "/me/sessions"

// sessionRead is the contract's SessionRead.
type sessionRead struct {
	ID         string  `json:"id"`
	Name       *string `json:"name"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt string  `json:"last_used_at"`
	ExpiresAt  string  `json:"expires_at"`
	IP         *string `json:"ip"`
	UserAgent  *string `json:"user_agent"`
	Current    bool    `json:"current"`
}

// userAgent sends a User-Agent header; "" sends none at all.
func userAgent(ua string) reqOpt {
	return func(r *http.Request) { r.Header.Set("User-Agent", ua) } // net/http sends no header for ""
}

// signupWith creates user name with goodPassword, with opts on the request.
func (c *client) signupWith(name string, opts ...reqOpt) session {
	c.t.Helper()
	return c.do(http.MethodPost, base+"/signup", credentials{Username: name, Password: goodPassword}, opts...).wantTokens(c.t, http.StatusCreated)
}

// loginWith starts a session of name, with opts on the request.
func (c *client) loginWith(name string, opts ...reqOpt) session {
	c.t.Helper()
	return c.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": goodPassword}, opts...).wantTokens(c.t, http.StatusOK)
}

// sessions lists the caller's sessions and fails unless it gets 200.
func (c *client) sessions(access string) []sessionRead {
	c.t.Helper()
	r := c.do(http.MethodGet, mySessions, nil, bearer(access))
	r.wantStatus(c.t, http.StatusOK)
	var got struct {
		Items []sessionRead `json:"items"`
	}
	decodeStrict(c.t, r, &got)
	for _, s := range got.Items {
		if strings.Contains(string(r.Body), `"name"`) && s.ID == "" {
			c.t.Fatalf("a session without an id: %s", r.Body)
		}
	}
	return got.Items
}

// sid is the session id of an access token.
func sid(t testing.TB, s session) string {
	t.Helper()
	_, claims := jwtParts(t, s.access)
	return claims["sid"].(string)
}

func TestSessionListShowsEveryLiveSessionWithItsClient(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		longUA := "Mozilla/5.0 " + strings.Repeat("ü", 300)
		laptop := c.signupWith("Lister", userAgent("Laptop/1.0"), header("X-Forwarded-For", "203.0.113.7"))
		time.Sleep(5 * time.Millisecond) // created_at orders the list
		phone := c.loginWith("lister", userAgent(longUA))
		gone := c.loginWith("lister", userAgent(""))
		c.do(http.MethodPost, base+"/logout", nil, withCookie(gone.refresh)).wantStatus(t, http.StatusNoContent)
		other := c.signup("Stranger")

		r := c.do(http.MethodGet, mySessions, nil, bearer(phone.access))
		r.wantStatus(t, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		list := c.sessions(phone.access)
		if len(list) != 2 {
			t.Fatalf("%d sessions listed, want the 2 live ones of the caller: %+v", len(list), list)
		}
		p, l := list[0], list[1] // newest first
		if p.ID != sid(t, phone) || l.ID != sid(t, laptop) {
			t.Fatalf("sessions %s, %s; want the phone's %s first, then the laptop's %s", p.ID, l.ID, sid(t, phone), sid(t, laptop))
		}
		if !p.Current || l.Current {
			t.Errorf("current = %v, %v; want true only for the caller's own session", p.Current, l.Current)
		}
		if l.IP == nil || *l.IP != "127.0.0.1" {
			t.Errorf("laptop ip %v, want the peer 127.0.0.1: X-Forwarded-For counts only from TRUSTED_PROXIES", l.IP)
		}
		if l.UserAgent == nil || *l.UserAgent != "Laptop/1.0" || l.Name != nil {
			t.Errorf("laptop user agent %v, name %v; want Laptop/1.0 and null", l.UserAgent, l.Name)
		}
		if want := []rune(longUA)[:256]; p.UserAgent == nil || *p.UserAgent != string(want) {
			t.Errorf("phone user agent %v, want the first 256 characters of what it sent", p.UserAgent)
		}
		for _, s := range list {
			created, used, expires := rfc3339(t, s.CreatedAt), rfc3339(t, s.LastUsedAt), rfc3339(t, s.ExpiresAt)
			if !used.Equal(created) || !expires.Equal(used.Add(bootstrap.Defaults().RefreshTokenTTL)) {
				t.Errorf("session %s: created %s, last used %s, expires %s; want last use = start and expiry one refresh lifetime later", s.ID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt)
			}
		}
		if theirs := c.sessions(other.access); len(theirs) != 1 || theirs[0].ID != sid(t, other) || !theirs[0].Current {
			t.Errorf("another user's list %+v, want only their own session", theirs)
		}

		// A refresh records its time and client; a request without a user agent leaves none.
		time.Sleep(5 * time.Millisecond)
		next := c.refresh(laptop.refresh).wantTokens(t, http.StatusOK)
		_ = next
		refreshed := c.do(http.MethodPost, base+"/refresh", nil, withCookie(next.refresh), userAgent("")).wantTokens(t, http.StatusOK)
		list = c.sessions(refreshed.access)
		l = list[1]
		if !l.Current || l.ID != sid(t, laptop) || l.UserAgent != nil || l.CreatedAt != list[1].CreatedAt {
			t.Fatalf("after refreshes the laptop's session is %+v; want it current with no user agent", l)
		}
		if used := rfc3339(t, l.LastUsedAt); !used.After(rfc3339(t, l.CreatedAt)) || !rfc3339(t, l.ExpiresAt).Equal(used.Add(bootstrap.Defaults().RefreshTokenTTL)) {
			t.Errorf("after a refresh: created %s, last used %s, expires %s; want last use moved and expiry after it", l.CreatedAt, l.LastUsedAt, l.ExpiresAt)
		}
		// Other requests are no use.
		c.me(refreshed.access)
		if again := c.sessions(refreshed.access)[1]; again.LastUsedAt != l.LastUsedAt {
			t.Errorf("a GET moved last_used_at from %s to %s", l.LastUsedAt, again.LastUsedAt)
		}
	})
}

func TestSessionIPFollowsTrustedProxies(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db, withConfig(func(cfg *bootstrap.Config) { cfg.TrustedProxies = []string{"127.0.0.1"} }))
		s := c.signupWith("Proxied", header("X-Forwarded-For", "198.51.100.1, 203.0.113.7"))
		v6 := c.loginWith("proxied", header("X-Forwarded-For", "2001:db8::7"))
		list := c.sessions(s.access)
		if len(list) != 2 || list[1].IP == nil || *list[1].IP != "203.0.113.7" || list[0].IP == nil || *list[0].IP != "2001:db8::7" {
			t.Fatalf("sessions %+v, want the client addresses the trusted proxy reported", list)
		}
		_ = v6
	})
}

func TestRenameSession(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		mine := c.signup("Namer")
		laptop := c.login("namer", goodPassword)
		stranger := c.signup("Stranger")
		id := sid(t, laptop)

		r := c.do(http.MethodPatch, mySessions+"/"+id, map[string]string{"name": "Work laptop"}, bearer(mine.access))
		r.wantStatus(t, http.StatusOK)
		var got sessionRead
		decodeStrict(t, r, &got)
		if got.ID != id || got.Name == nil || *got.Name != "Work laptop" || got.Current {
			t.Fatalf("renamed %+v, want the laptop's session named Work laptop, not current", got)
		}
		for _, s := range c.sessions(mine.access) {
			if s.ID == id && (s.Name == nil || *s.Name != "Work laptop") {
				t.Errorf("the list shows name %v", s.Name)
			}
		}
		r = c.do(http.MethodPatch, mySessions+"/"+sid(t, mine), map[string]string{"name": "  Ноутбук 💻 "}, bearer(mine.access))
		r.wantStatus(t, http.StatusOK)
		decodeStrict(t, r, &got)
		if !got.Current || *got.Name != "  Ноутбук 💻 " {
			t.Errorf("renaming the current session: %+v; want it current with the name as given", got)
		}

		for name, body := range map[string]any{
			"empty":         map[string]string{"name": ""},
			"blank":         map[string]string{"name": " \t "},
			"too long":      map[string]string{"name": strings.Repeat("é", 65)},
			"control":       map[string]string{"name": "bell\u0007"},
			"newline":       map[string]string{"name": "two\nlines"},
			"null":          map[string]any{"name": nil},
			"missing":       map[string]any{},
			"unknown field": map[string]any{"name": "ok", "nmae": "typo"},
		} {
			t.Run(name, func(t *testing.T) {
				p := c.do(http.MethodPatch, mySessions+"/"+id, body, bearer(mine.access), malformed()).wantProblem(t, http.StatusUnprocessableEntity)
				if len(p.Errors) == 0 {
					t.Errorf("422 without errors: %+v", p)
				}
			})
		}
		if s := c.sessions(mine.access); len(s) != 2 {
			t.Fatalf("sessions %+v", s)
		}

		c.do(http.MethodDelete, mySessions+"/"+id, nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)
		for what, path := range map[string]string{
			"another user's session": mySessions + "/" + sid(t, stranger),
			"a revoked session":      mySessions + "/" + id,
			"an unknown session":     mySessions + "/" + uuid.NewString(),
		} {
			if p := c.do(http.MethodPatch, path, map[string]string{"name": "Mine now"}, bearer(mine.access)).wantProblem(t, http.StatusNotFound); p.Detail != "session not found" {
				t.Errorf("%s: detail %q", what, p.Detail)
			}
		}
		for _, path := range []string{mySessions + "/not-a-uuid", mySessions + "/" + strings.ReplaceAll(uuid.NewString(), "-", "")} {
			c.do(http.MethodPatch, path, map[string]string{"name": "Mine now"}, bearer(mine.access), malformed()).wantProblem(t, http.StatusNotFound)
			// An id that is not a UUID is 404 before the body's 422.
			c.do(http.MethodPatch, path, map[string]string{"name": ""}, bearer(mine.access), malformed()).wantProblem(t, http.StatusNotFound)
		}
		if theirs := c.sessions(stranger.access); theirs[0].Name != nil {
			t.Errorf("another user's session got a name: %v", *theirs[0].Name)
		}
	})
}

func TestRevokeOneSessionRefusesItsTokensAtOnce(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		mine := c.signup("Revoker")
		laptop := c.login("revoker", goodPassword)
		phone := c.login("revoker", goodPassword)
		stranger := c.signup("Stranger")
		c.do(http.MethodGet, chats, nil, bearer(laptop.access)).wantStatus(t, http.StatusOK)

		r := c.do(http.MethodDelete, mySessions+"/"+sid(t, laptop), nil, bearer(mine.access))
		r.wantStatus(t, http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %q", r.Body)
		}
		c.wantAccessRefused(laptop.access)
		c.do(http.MethodGet, chats, nil, bearer(laptop.access)).wantProblem(t, http.StatusUnauthorized)
		c.wantRefreshRefused(laptop.refresh)
		for _, s := range c.sessions(mine.access) {
			if s.ID == sid(t, laptop) {
				t.Error("the revoked session is still listed")
			}
		}
		// Everyone else is untouched.
		c.me(mine.access)
		c.me(phone.access)
		c.refresh(phone.refresh).wantTokens(t, http.StatusOK)
		c.me(stranger.access)

		p := c.do(http.MethodDelete, mySessions+"/"+sid(t, mine), nil, bearer(mine.access)).wantProblem(t, http.StatusConflict)
		if !strings.Contains(p.Detail, "log out") {
			t.Errorf("409 detail %q, want it to point at logout", p.Detail)
		}
		c.me(mine.access) // the current session survived the attempt
		for what, path := range map[string]string{
			"another user's session": mySessions + "/" + sid(t, stranger),
			"an already revoked one": mySessions + "/" + sid(t, laptop),
			"an unknown one":         mySessions + "/" + uuid.NewString(),
		} {
			if p := c.do(http.MethodDelete, path, nil, bearer(mine.access)).wantProblem(t, http.StatusNotFound); p.Detail != "session not found" {
				t.Errorf("%s: detail %q", what, p.Detail)
			}
		}
		c.do(http.MethodDelete, mySessions+"/12345", nil, bearer(mine.access), malformed()).wantProblem(t, http.StatusNotFound)
		c.me(stranger.access)
	})
}

func TestRevokeOtherSessionsKeepsOnlyTheCurrentOne(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		mine := c.signup("Everywhere")
		others := []session{c.login("everywhere", goodPassword), c.login("everywhere", goodPassword)}
		stranger := c.signup("Stranger")

		r := c.do(http.MethodDelete, mySessions, nil, bearer(mine.access))
		r.wantStatus(t, http.StatusOK)
		var got struct {
			Revoked int `json:"revoked"`
		}
		decodeStrict(t, r, &got)
		if got.Revoked != 2 {
			t.Fatalf("revoked %d, want 2", got.Revoked)
		}
		for _, o := range others {
			c.wantAccessRefused(o.access)
			c.do(http.MethodGet, chats, nil, bearer(o.access)).wantProblem(t, http.StatusUnauthorized)
			c.wantRefreshRefused(o.refresh)
		}
		if list := c.sessions(mine.access); len(list) != 1 || !list[0].Current {
			t.Errorf("sessions after revoking the others: %+v, want only the current one", list)
		}
		c.refresh(mine.refresh).wantTokens(t, http.StatusOK)
		c.me(stranger.access)
		r = c.do(http.MethodDelete, mySessions, nil, bearer(mine.access))
		r.wantStatus(t, http.StatusOK)
		decodeStrict(t, r, &got)
		if got.Revoked != 0 {
			t.Errorf("a second call revoked %d, want 0", got.Revoked)
		}
	})
}

func TestSessionRevocationReachesAnotherInstanceAtOnce(t *testing.T) {
	var revB *sqlstore.Revocations
	a := newApp(t)
	b := newApp(t, sharingDatabaseOf(a), withFx(fx.Populate(&revB)))
	eventually(t, 10*time.Second, "B's listener trusted", revB.Trusted)
	mine := a.signup("Traveller")
	laptop, phone := a.login("traveller", goodPassword), a.login("traveller", goodPassword)
	b.me(laptop.access)
	b.me(phone.access)

	a.do(http.MethodDelete, mySessions+"/"+sid(t, laptop), nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)
	t.Logf("instance B refused the revoked session's token %s after A answered", b.refusedWithin(laptop.access, time.Second))
	b.do(http.MethodGet, chats, nil, bearer(laptop.access)).wantProblem(t, http.StatusUnauthorized)

	a.do(http.MethodDelete, mySessions, nil, bearer(mine.access)).wantStatus(t, http.StatusOK)
	b.refusedWithin(phone.access, time.Second)
	if !revB.Trusted() {
		t.Fatal("B fell back to the table: the notification path was not what refused the tokens")
	}
	b.me(mine.access)
}

// liveSessionsOf counts the user's live sessions in the table itself.
func liveSessionsOf(t *testing.T, gdb *gorm.DB, userID string) int64 {
	t.Helper()
	var n int64
	err := gdb.Table("sessions").Where("user_id = ? AND revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?",
		userID, time.Now().UTC(), time.Now().UTC()).Count(&n).Error
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSessionsPerUserEvictsTheLeastRecentlyUsed(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		c := newApp(t, db, withConfig(func(cfg *bootstrap.Config) { cfg.SessionsPerUser = 3 }), withFx(fx.Populate(&gdb)))
		first := c.signup("Capped")
		uid := c.me(first.access).ID
		time.Sleep(5 * time.Millisecond)
		second := c.login("capped", goodPassword)
		time.Sleep(5 * time.Millisecond)
		third := c.login("capped", goodPassword)
		time.Sleep(5 * time.Millisecond)
		first = c.refresh(first.refresh).wantTokens(t, http.StatusOK) // second is now the least recently used

		fourth := c.login("capped", goodPassword)
		c.wantAccessRefused(second.access)
		c.do(http.MethodGet, chats, nil, bearer(second.access)).wantProblem(t, http.StatusUnauthorized)
		c.wantRefreshRefused(second.refresh)
		for _, s := range []session{first, third, fourth} {
			c.me(s.access)
		}
		if list := c.sessions(fourth.access); len(list) != 3 {
			t.Errorf("%d sessions listed, want 3", len(list))
		}

		// Concurrent logins never leave more than the cap live.
		const n = 10
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() {
				r, err := c.send(http.MethodPost, base+"/login", map[string]string{"username": "capped", "password": goodPassword})
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.Status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK {
				t.Errorf("concurrent login %d: %d", i, s)
			}
		}
		if live := liveSessionsOf(t, gdb, uid); live != 3 {
			t.Fatalf("%d live sessions in the table after %d concurrent logins, want the cap 3", live, n)
		}
	})
}

// manualClock is a ports.Clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (m *manualClock) Now() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.now }
func (m *manualClock) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}

func withManualClock(m *manualClock) option {
	return withFx(fx.Decorate(func(ports.Clock) ports.Clock { return m }))
}

func withCleanUpEvery(d time.Duration) option {
	return withConfig(func(cfg *bootstrap.Config) { cfg.SessionCleanupInterval = d })
}

// sessionRows returns the ids of every row of the sessions table.
func sessionRows(t *testing.T, gdb *gorm.DB) map[string]bool {
	t.Helper()
	var ids []string
	if err := gdb.Table("sessions").Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

func TestCleanUpRemovesSessionsThatCanNoLongerMatter(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		clk := &manualClock{now: time.Now().UTC().Truncate(time.Microsecond)}
		c := newApp(t, db, withManualClock(clk), withCleanUpEvery(20*time.Millisecond), withFx(fx.Populate(&gdb)))
		idle := c.signup("Keeper")
		loggedOut := c.login("keeper", goodPassword)
		c.do(http.MethodPost, base+"/logout", nil, withCookie(loggedOut.refresh)).wantStatus(t, http.StatusNoContent)
		gone := c.signup("Goner")
		c.do(http.MethodDelete, base, nil, bearer(gone.access)).wantStatus(t, http.StatusNoContent)

		time.Sleep(100 * time.Millisecond) // several runs: nothing has ended long enough ago
		rows := sessionRows(t, gdb)
		for _, s := range []session{idle, loggedOut, gone} {
			if !rows[sid(t, s)] {
				t.Fatalf("session %s was removed while its tokens could still be live", sid(t, s))
			}
		}

		// Past the longest token lifetime (REFRESH_TOKEN_TTL) since they ended.
		cfg := bootstrap.Defaults()
		clk.Advance(cfg.RefreshTokenTTL + cfg.TokenLeeway + 10*time.Minute)
		live := c.login("keeper", goodPassword)
		eventually(t, 10*time.Second, "the ended sessions removed", func() bool {
			rows := sessionRows(t, gdb)
			return !rows[sid(t, loggedOut)] && !rows[sid(t, gone)]
		})
		rows = sessionRows(t, gdb)
		if !rows[sid(t, idle)] || !rows[sid(t, live)] {
			t.Fatal("the clean-up removed a session that ended too recently, or a live one")
		}
		c.me(live.access)
		c.wantAccessRefused(loggedOut.access)
		c.wantRefreshRefused(loggedOut.refresh)
	})
}

func TestCleanUpOnSeveralInstancesRemovesEachRowOnce(t *testing.T) {
	var gdb *gorm.DB
	clk := &manualClock{now: time.Now().UTC().Truncate(time.Microsecond)}
	a := newApp(t, withManualClock(clk), withCleanUpEvery(10*time.Millisecond), withFx(fx.Populate(&gdb)))
	b := newApp(t, sharingDatabaseOf(a), withManualClock(clk), withCleanUpEvery(10*time.Millisecond))
	keep := a.signup("Survivor")
	const ended = 2400 // several batches of the clean-up
	err := gdb.Exec(`INSERT INTO sessions (id, user_id, created_at, expires_at, refresh_id, refresh_issued_at, refresh_expires_at, revoked_at, last_used_at)
		SELECT gen_random_uuid(), NULL, ?, ?, gen_random_uuid(), ?, ?, ?, ? FROM generate_series(1, ?)`,
		clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour), clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour), clk.Now().Add(-time.Hour), clk.Now().Add(-time.Hour), ended).Error
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sessionRows(t, gdb)); n != ended+1 {
		t.Fatalf("%d rows, want %d", n, ended+1)
	}
	cfg := bootstrap.Defaults()
	clk.Advance(cfg.RefreshTokenTTL + cfg.TokenLeeway)
	eventually(t, 30*time.Second, "every ended session removed", func() bool { return len(sessionRows(t, gdb)) == 1 })
	if !sessionRows(t, gdb)[sid(t, keep)] {
		t.Fatal("the live session was removed")
	}
	removedBy := func(c *client) (n int) {
		for _, line := range c.app.logLines(t) {
			if line["msg"] == "ended sessions removed" {
				n += int(line["removed"].(float64))
			}
			if line["msg"] == "session clean-up failed; the next run tries again" {
				t.Errorf("a clean-up run failed: %v", line)
			}
		}
		return n
	}
	ra, rb := removedBy(a), removedBy(b)
	t.Logf("instance A removed %d sessions, B %d", ra, rb)
	if ra+rb != ended {
		t.Errorf("the instances report %d + %d = %d removed, want each of the %d exactly once", ra, rb, ra+rb, ended)
	}
}
