package bootstrap_test

// The contract's "Sessions and tokens" rules: rotation, the reuse grace,
// theft detection, logout, password changes, deletion and the concurrent cases.

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRefreshRotatesTheRefreshToken(t *testing.T) {
	c := newApp(t)
	s := c.signup("Rotator")
	r := c.refresh(s.refresh)
	next := r.wantTokens(t, http.StatusOK) // Token body, no-store, a full refresh cookie
	if next.refresh == s.refresh {
		t.Fatal("refresh answered the same refresh token; want a new one")
	}
	if next.access == s.access {
		t.Error("refresh answered the same access token")
	}
	if c.me(next.access).ID != c.me(s.access).ID {
		t.Error("the new access token belongs to another user")
	}
	// The new refresh token is the live one.
	c.refresh(next.refresh).wantTokens(t, http.StatusOK)
}

func TestRefreshWithoutValidCookieIsRefused(t *testing.T) {
	c := newApp(t)
	s := c.signup("NoCookie")
	c.do(http.MethodPost, base+"/refresh", nil).wantProblem(t, http.StatusUnauthorized)
	c.wantRefreshRefused("not-a-jwt")
	c.wantRefreshRefused(s.access + "x")
	// An access token is never a refresh token.
	c.wantRefreshRefused(s.access)
	// An expired refresh token, otherwise right, signed with the service's key.
	h, claims := jwtParts(t, s.refresh)
	claims["iat"], claims["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	expired := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(claims))
	expired.Header["kid"], expired.Header["typ"] = h["kid"], h["typ"]
	signed, err := expired.SignedString(devSigningKey(t, c))
	if err != nil {
		t.Fatal(err)
	}
	c.wantRefreshRefused(signed)
	c.do(http.MethodPost, base+"/logout", nil, withCookie(s.access)).wantProblem(t, http.StatusUnauthorized)
	// None of that harmed the session.
	c.refresh(s.refresh).wantTokens(t, http.StatusOK)
}

func TestRetiredTokenWithinGraceGetsTheCurrentToken(t *testing.T) {
	c := newApp(t) // REFRESH_REUSE_GRACE default: 10 s
	s := c.signup("Graceful")
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)

	again := c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	if again.refresh != next.refresh {
		t.Errorf("retired token within grace got another refresh token; want the session's current one")
	}
	c.me(again.access)

	// The session still has one live token, and it keeps working.
	c.refresh(next.refresh).wantTokens(t, http.StatusOK)
}

func TestRetiredTokenAfterGraceRevokesTheSession(t *testing.T) {
	const grace = time.Second
	c := newApp(t, withGrace(grace))
	s := c.signup("Victim")
	other := c.login("Victim", goodPassword)
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)

	time.Sleep(grace + 500*time.Millisecond)
	r := c.refresh(s.refresh)
	r.wantProblem(t, http.StatusUnauthorized)
	r.wantClearedCookie(t)

	c.wantRefreshRefused(next.refresh) // the newest token of the session
	c.wantAccessRefused(next.access)   // and its access tokens, at once
	c.wantAccessRefused(s.access)
	// Only that session: the user's other session is untouched.
	c.me(other.access)
	c.refresh(other.refresh).wantTokens(t, http.StatusOK)
}

func TestTokenOlderThanTheRetiredOneRevokesTheSession(t *testing.T) {
	c := newApp(t) // within the default grace: age, not time, makes this theft
	t0 := c.signup("Replayer")
	t1 := c.refresh(t0.refresh).wantTokens(t, http.StatusOK)
	t2 := c.refresh(t1.refresh).wantTokens(t, http.StatusOK)

	c.wantRefreshRefused(t0.refresh)
	c.wantRefreshRefused(t2.refresh)
	c.wantAccessRefused(t2.access)
	c.wantRefreshRefused(t1.refresh)
}

func TestWithoutGraceImmediateReuseIsTheft(t *testing.T) {
	c := newApp(t, withGrace(0))
	s := c.signup("NoGrace")
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	c.wantRefreshRefused(s.refresh)
	c.wantRefreshRefused(next.refresh)
	c.wantAccessRefused(next.access)
}

func TestLogOutRevokesThatSessionAtOnce(t *testing.T) {
	c := newApp(t)
	s := c.signup("Leaving")
	other := c.login("leaving", goodPassword)

	r := c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh))
	r.wantStatus(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %q", r.Body)
	}
	r.wantClearedCookie(t)

	c.wantAccessRefused(s.access) // before it expires
	c.wantRefreshRefused(s.refresh)
	c.do(http.MethodPatch, base, map[string]any{"full_name": "Still Here"}, bearer(s.access)).wantProblem(t, http.StatusUnauthorized)
	c.do(http.MethodPut, base+"/", map[string]any{"username": "Leaving", "password": newPassword, "current_password": goodPassword}, bearer(s.access)).
		wantProblem(t, http.StatusUnauthorized)
	c.do(http.MethodDelete, base, nil, bearer(s.access)).wantProblem(t, http.StatusUnauthorized)

	// The user's other session is still signed in.
	c.me(other.access)
	c.refresh(other.refresh).wantTokens(t, http.StatusOK)
}

func TestLogOutTwiceIsRefused(t *testing.T) {
	c := newApp(t)
	s := c.signup("Twice")
	c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantStatus(t, http.StatusNoContent)
	// The contract's 401 row: a revoked refresh token.
	c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantProblem(t, http.StatusUnauthorized)
}

func TestLogOutWithoutCookieIsRefused(t *testing.T) {
	c := newApp(t)
	s := c.signup("Cookieless")
	c.do(http.MethodPost, base+"/logout", nil).wantProblem(t, http.StatusUnauthorized)
	c.do(http.MethodPost, base+"/logout", nil, withCookie("garbage")).wantProblem(t, http.StatusUnauthorized)
	c.me(s.access)
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	changes := map[string]func(c *client, access string) *response{
		"PUT": func(c *client, access string) *response {
			return c.do(http.MethodPut, base, map[string]any{
				"username": "Changer", "password": newPassword, "current_password": goodPassword,
			}, bearer(access))
		},
		"PATCH": func(c *client, access string) *response {
			return c.do(http.MethodPatch, base, map[string]any{"password": newPassword, "current_password": goodPassword}, bearer(access))
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			c := newApp(t)
			mine := c.signup("Changer")
			laptop := c.login("changer", goodPassword)
			phone := c.login("CHANGER", goodPassword)

			change(c, mine.access).wantStatus(t, http.StatusOK)

			for _, other := range []session{laptop, phone} {
				c.wantAccessRefused(other.access)
				c.wantRefreshRefused(other.refresh)
			}
			// The session that made the change stays signed in.
			c.me(mine.access)
			next := c.refresh(mine.refresh).wantTokens(t, http.StatusOK)
			c.me(next.access)

			c.do(http.MethodPost, base+"/login", map[string]string{"username": "Changer", "password": goodPassword}).
				wantProblem(t, http.StatusUnauthorized)
			c.login("Changer", newPassword)
		})
	}
}

func TestProfileChangeWithoutNewPasswordKeepsOtherSessions(t *testing.T) {
	c := newApp(t)
	mine := c.signup("Keeper")
	other := c.login("keeper", goodPassword)
	c.do(http.MethodPatch, base, map[string]any{"username": "Keeper2", "full_name": "Kim Keeper"}, bearer(mine.access)).
		wantStatus(t, http.StatusOK)
	c.me(other.access)
	c.refresh(other.refresh).wantTokens(t, http.StatusOK)
}

func TestDeleteRevokesEverySession(t *testing.T) {
	c := newApp(t)
	a := c.signup("Goner")
	b := c.login("goner", goodPassword)
	c.do(http.MethodDelete, base+"/", nil, bearer(a.access)).wantStatus(t, http.StatusNoContent)

	for _, s := range []session{a, b} {
		c.wantAccessRefused(s.access)
		c.wantRefreshRefused(s.refresh)
		c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantProblem(t, http.StatusUnauthorized)
	}
	// A token of the deleted user is refused on every bearer route.
	c.do(http.MethodDelete, base, nil, bearer(b.access)).wantProblem(t, http.StatusUnauthorized)
	c.do(http.MethodPatch, base, map[string]any{"full_name": "Ghost"}, bearer(b.access)).wantProblem(t, http.StatusUnauthorized)
}

func TestConcurrentSignupsOfOneUsernameCreateOneAccount(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		const n = 20
		statuses := make([]int, n)
		bodies := make([]string, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				name := []byte("racer")
				for j := range name {
					if i>>j&1 == 1 {
						name[j] -= 'a' - 'A' // every goroutine its own mix of cases
					}
				}
				r, err := c.send(http.MethodPost, base+"/signup", credentials{Username: string(name), Password: goodPassword})
				if err != nil {
					t.Errorf("signup %d: %v", i, err)
					return
				}
				statuses[i], bodies[i] = r.Status, string(r.Body)
				for _, v := range r.contractViolations() {
					t.Errorf("signup %d → %d: %s", i, r.Status, v)
				}
			})
		}
		close(start)
		wg.Wait()

		count := map[int]int{}
		for i, s := range statuses {
			count[s]++
			if strings.Contains(strings.ToLower(bodies[i]), "locked") {
				t.Errorf("signup %d: %s", i, bodies[i])
			}
		}
		if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
			t.Errorf("statuses %v, want exactly one 201 and %d × 409", count, n-1)
		}
		if strings.Contains(c.app.logs.String(), "database is locked") {
			t.Error("the log reports \"database is locked\"")
		}
		c.login("RACER", goodPassword)
	})
}

func TestConcurrentRefreshesShareOneNewToken(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		s := c.signup("Tabs")
		const n = 10
		cookies := make([]string, n)
		access := make([]string, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				r, err := c.send(http.MethodPost, base+"/refresh", nil, withCookie(s.refresh))
				if err != nil {
					t.Errorf("refresh %d: %v", i, err)
					return
				}
				if r.Status != http.StatusOK {
					t.Errorf("refresh %d: status %d, want 200: %s", i, r.Status, r.Body)
					return
				}
				if rc := r.refreshCookie(); rc != nil {
					cookies[i] = rc.Value
				}
				var tok token
				if err := json.Unmarshal(r.Body, &tok); err != nil || tok.AccessToken == "" {
					t.Errorf("refresh %d: Token body %s", i, r.Body)
				}
				access[i] = tok.AccessToken
				if !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
					t.Errorf("refresh %d: Cache-Control %q", i, r.Header.Get("Cache-Control"))
				}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}

		current := cookies[0]
		for i, v := range cookies {
			if v == "" || v != current {
				t.Fatalf("refresh %d set cookie %.20q…, refresh 0 set %.20q…: want one new token for all", i, v, current)
			}
		}
		if current == s.refresh {
			t.Fatal("the concurrent refreshes kept the old token")
		}
		for _, a := range access {
			c.me(a) // every tab got a working access token
		}

		// Exactly one live token: the shared new one refreshes...
		next := c.refresh(current).wantTokens(t, http.StatusOK)
		if next.refresh == current {
			t.Fatal("refreshing the shared token did not rotate it")
		}
		// ...while the original is now older than the token just retired: theft.
		c.wantRefreshRefused(s.refresh)
		c.wantRefreshRefused(next.refresh)
		c.wantAccessRefused(next.access)
	})
}
