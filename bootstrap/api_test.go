package bootstrap_test

// The contract's Endpoints table and Operational endpoints, row by row.

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"example.com/usersvc/bootstrap"
)

func TestEveryEndpointWorksOnEachDatabase(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)

		s := c.signup("Walrus1")
		if s.expiresIn != 900 {
			t.Errorf("expires_in %d, want 900", s.expiresIn)
		}
		me := c.me(s.access)
		if me.Username != "Walrus1" || me.FullName != nil {
			t.Errorf("me after signup: %+v", me)
		}

		login := c.login("WALRUS1", goodPassword)
		if got := c.me(login.access); got.ID != me.ID {
			t.Errorf("login with another case reached user %s, want %s", got.ID, me.ID)
		}

		put := c.do(http.MethodPut, base, map[string]any{
			"username": "Walrus2", "password": goodPassword, "current_password": goodPassword, "full_name": "Wally Walrus",
		}, bearer(s.access))
		put.wantStatus(t, http.StatusOK)
		if u := put.user(t); u.Username != "Walrus2" || u.FullName == nil || *u.FullName != "Wally Walrus" {
			t.Errorf("PUT answered %+v", u)
		}

		patch := c.do(http.MethodPatch, base+"/", map[string]any{"full_name": nil}, bearer(s.access))
		patch.wantStatus(t, http.StatusOK)
		if u := patch.user(t); u.Username != "Walrus2" || u.FullName != nil {
			t.Errorf("PATCH full_name null answered %+v", u)
		}

		next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)
		if next.refresh == s.refresh {
			t.Error("refresh kept the same refresh token")
		}
		c.me(next.access)

		out := c.do(http.MethodPost, base+"/logout", nil, withCookie(login.refresh))
		out.wantStatus(t, http.StatusNoContent)
		out.wantClearedCookie(t)

		del := c.do(http.MethodDelete, base, nil, bearer(next.access))
		del.wantStatus(t, http.StatusNoContent)
		del.wantClearedCookie(t)
		c.wantAccessRefused(next.access)
		c.do(http.MethodPost, base+"/login", map[string]string{"username": "Walrus2", "password": goodPassword}).
			wantProblem(t, http.StatusUnauthorized)
	})
}

func TestSignUpAnswersTokenAndSecureRefreshCookie(t *testing.T) {
	c := newApp(t)
	r := c.do(http.MethodPost, base+"/signup", credentials{Username: "Cookie1", Password: goodPassword})
	s := r.wantTokens(t, http.StatusCreated)

	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 3 || body["token_type"] != "bearer" || body["expires_in"] != float64(900) {
		t.Errorf("Token body %s, want exactly access_token, token_type bearer, expires_in 900", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}

	cookie := r.refreshCookie()
	for _, attr := range []string{"Path=/api/v1/users", "HttpOnly", "SameSite=Strict", "Secure", "Max-Age="} {
		if !strings.Contains(cookie.Raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", cookie.Raw, attr)
		}
	}
	week := int((168 * time.Hour).Seconds())
	if cookie.MaxAge > week || cookie.MaxAge < week-5 {
		t.Errorf("refresh cookie Max-Age %d, want REFRESH_TOKEN_TTL (%d s)", cookie.MaxAge, week)
	}

	h, claims := jwtParts(t, s.access)
	if h["alg"] != "EdDSA" || h["kid"] == nil {
		t.Errorf("access token header %v, want alg EdDSA and a kid", h)
	}
	for _, k := range []string{"sub", "sid", "iat", "exp", "jti"} {
		if claims[k] == nil {
			t.Errorf("access token lacks claim %q: %v", k, claims)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
		t.Errorf("access token lives %v s, want 900", exp-iat)
	}
	if claims["sub"] != c.me(s.access).ID {
		t.Errorf("sub %v is not the user's id", claims["sub"])
	}
}

func TestSignUpKeepsUsernameCaseAndFullName(t *testing.T) {
	c := newApp(t)
	s := c.do(http.MethodPost, base+"/signup", credentials{Username: "MiXeD42", Password: goodPassword, FullName: str("José Núñez")}).
		wantTokens(t, http.StatusCreated)
	me := c.me(s.access)
	if me.Username != "MiXeD42" || me.FullName == nil || *me.FullName != "José Núñez" {
		t.Errorf("me %+v, want username MiXeD42 and full_name José Núñez", me)
	}
}

func TestSignUpAcceptsContentTypeWithCharset(t *testing.T) {
	c := newApp(t)
	c.do(http.MethodPost, base+"/signup", credentials{Username: "charset", Password: goodPassword},
		contentType("application/json; charset=utf-8")).wantTokens(t, http.StatusCreated)
}

func TestLogInIsCaseInsensitive(t *testing.T) {
	c := newApp(t)
	first := c.signup("Alice")
	id := c.me(first.access).ID
	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		s := c.login(name, goodPassword)
		if s.refresh == first.refresh {
			t.Errorf("login %s reused the signup's refresh token", name)
		}
		if me := c.me(s.access); me.ID != id || me.Username != "Alice" {
			t.Errorf("login as %s reached %+v, want id %s and the stored case Alice", name, me, id)
		}
	}
}

func TestLogInUnknownUserAndWrongPasswordAnswerAlike(t *testing.T) {
	c := newApp(t)
	c.signup("Known")
	wrong := c.do(http.MethodPost, base+"/login", map[string]string{"username": "known", "password": "Wr0ng!Password"})
	unknown := c.do(http.MethodPost, base+"/login", map[string]string{"username": "Unknown", "password": "Wr0ng!Password"})
	pw, pu := wrong.wantProblem(t, http.StatusUnauthorized), unknown.wantProblem(t, http.StatusUnauthorized)
	pw.RequestID, pu.RequestID, pw.Instance, pu.Instance = "", "", "", ""
	a, _ := json.Marshal(pw)
	b, _ := json.Marshal(pu)
	if string(a) != string(b) {
		t.Errorf("wrong password and unknown user answer differently:\n%s\n%s", a, b)
	}
	var raw map[string]any
	_ = json.Unmarshal(wrong.Body, &raw)
	for k := range raw {
		if k != "type" && k != "title" && k != "status" && k != "detail" && k != "instance" && k != "request_id" {
			t.Errorf("login failure carries %q, which could differ between the two cases", k)
		}
	}
	if wrong.refreshCookie() != nil || unknown.refreshCookie() != nil {
		t.Error("a failed login set a refresh cookie")
	}
}

func TestMeReturnsUserRead(t *testing.T) {
	c := newApp(t)
	before := time.Now().UTC().Add(-time.Second)
	s := c.signup("Reader")
	r := c.do(http.MethodGet, base+"/me", nil, bearer(s.access))
	r.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(r.Body), `"full_name":null`) {
		t.Errorf("full_name of a user without one must be JSON null: %s", r.Body)
	}
	me := r.user(t)
	id, err := uuid.Parse(me.ID)
	if err != nil || id.String() != me.ID || (id.Version() != 4 && id.Version() != 7) {
		t.Errorf("id %q, want a canonical UUID of version 4 or 7", me.ID)
	}
	for name, ts := range map[string]string{"created_at": me.CreatedAt, "updated_at": me.UpdatedAt} {
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("%s %q, want RFC 3339 in UTC", name, ts)
			continue
		}
		if at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s %s is not the signup time", name, ts)
		}
	}
	if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "hash") {
		t.Errorf("UserRead carries password material: %s", r.Body)
	}
}

func TestPutReplacesProfileOnBothPathsWithoutRedirect(t *testing.T) {
	c := newApp(t)
	s := c.signup("Putter")
	created := c.me(s.access)

	for _, path := range []string{base, base + "/"} {
		t.Run(path, func(t *testing.T) {
			c := c.with(t)
			r := c.do(http.MethodPut, path, map[string]any{
				"username": "Putter", "password": goodPassword, "current_password": goodPassword, "full_name": "Anne-Marie",
			}, bearer(s.access))
			r.wantStatus(t, http.StatusOK)
			if u := r.user(t); u.FullName == nil || *u.FullName != "Anne-Marie" || u.ID != created.ID || u.CreatedAt != created.CreatedAt {
				t.Errorf("PUT %s answered %+v", path, u)
			}

			// full_name absent: PUT replaces the whole profile, so it is cleared.
			r = c.do(http.MethodPut, path, map[string]any{
				"username": "PUTTER", "password": goodPassword, "current_password": goodPassword,
			}, bearer(s.access))
			r.wantStatus(t, http.StatusOK)
			u := r.user(t)
			if u.FullName != nil || u.Username != "PUTTER" {
				t.Errorf("PUT without full_name answered %+v, want full_name null and username PUTTER", u)
			}
			if me := c.me(s.access); !me.same(u) {
				t.Errorf("GET /me %+v differs from PUT's answer %+v", me, u)
			}
		})
	}

	// full_name null clears as well.
	c.do(http.MethodPut, base, map[string]any{"username": "Putter", "password": goodPassword, "current_password": goodPassword, "full_name": "O'Brien"}, bearer(s.access)).wantStatus(t, http.StatusOK)
	r := c.do(http.MethodPut, base, map[string]any{"username": "Putter", "password": goodPassword, "current_password": goodPassword, "full_name": nil}, bearer(s.access))
	r.wantStatus(t, http.StatusOK)
	if u := r.user(t); u.FullName != nil {
		t.Errorf("PUT full_name null answered %+v", u)
	}
	if me := c.me(s.access); me.UpdatedAt < created.UpdatedAt {
		t.Errorf("updated_at went backwards: %s < %s", me.UpdatedAt, created.UpdatedAt)
	}
}

func TestPatchChangesOnlyGivenFields(t *testing.T) {
	c := newApp(t)
	s := c.do(http.MethodPost, base+"/signup", credentials{Username: "Patcher", Password: goodPassword, FullName: str("Zoë Smith")}).
		wantTokens(t, http.StatusCreated)
	start := c.me(s.access)

	patch := func(path string, body any) userRead {
		t.Helper()
		r := c.do(http.MethodPatch, path, body, bearer(s.access))
		r.wantStatus(t, http.StatusOK)
		u := r.user(t)
		if me := c.me(s.access); !me.same(u) {
			t.Errorf("GET /me %+v differs from PATCH's answer %+v", me, u)
		}
		return u
	}

	// {} changes nothing, not even updated_at.
	if u := patch(base, map[string]any{}); !u.same(start) {
		t.Errorf("PATCH {} answered %+v, want unchanged %+v", u, start)
	}

	u := patch(base+"/", map[string]any{"username": "Patched"})
	if u.Username != "Patched" || u.FullName == nil || *u.FullName != "Zoë Smith" || u.CreatedAt != start.CreatedAt {
		t.Errorf("PATCH username answered %+v, want only the username changed", u)
	}

	u = patch(base, map[string]any{"full_name": "O'Brien"})
	if u.Username != "Patched" || u.FullName == nil || *u.FullName != "O'Brien" {
		t.Errorf("PATCH full_name answered %+v", u)
	}

	u = patch(base, map[string]any{"full_name": nil})
	if u.Username != "Patched" || u.FullName != nil {
		t.Errorf(`PATCH "full_name": null answered %+v, want it cleared`, u)
	}

	u = patch(base, map[string]any{"password": newPassword, "current_password": goodPassword})
	if u.Username != "Patched" || u.FullName != nil {
		t.Errorf("PATCH password changed other fields: %+v", u)
	}
	c.login("patched", newPassword)
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "patched", "password": goodPassword}).
		wantProblem(t, http.StatusUnauthorized)
}

func TestDeleteRemovesAccount(t *testing.T) {
	for _, path := range []string{base, base + "/"} {
		t.Run(path, func(t *testing.T) {
			c := newApp(t)
			s := c.signup("Leaver")
			r := c.do(http.MethodDelete, path, nil, bearer(s.access))
			r.wantStatus(t, http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("204 with a body: %q", r.Body)
			}
			r.wantClearedCookie(t)

			c.wantAccessRefused(s.access)
			c.do(http.MethodPost, base+"/login", map[string]string{"username": "Leaver", "password": goodPassword}).
				wantProblem(t, http.StatusUnauthorized)
			// The name is free again: nothing of the account is left.
			again := c.signup("leaver")
			if c.me(again.access).Username != "leaver" {
				t.Error("a new account under the deleted name is not fresh")
			}
		})
	}
}

func TestOperationalEndpointsAnswer(t *testing.T) {
	c := newApp(t)
	c.do(http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK)
	c.do(http.MethodGet, "/readyz", nil).wantStatus(t, http.StatusOK)
}

func TestAccessTokenVerifiesWithPublishedKey(t *testing.T) {
	c := newApp(t)
	s := c.signup("Verifier")

	r := c.do(http.MethodGet, "/.well-known/jwks.json", nil)
	r.wantStatus(t, http.StatusOK)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("JWKS: %v\n%s", err, r.Body)
	}
	h, _ := jwtParts(t, s.access)
	var pub ed25519.PublicKey
	for _, k := range set.Keys {
		if _, private := k["d"]; private {
			t.Fatalf("JWKS publishes a private key")
		}
		if k["kid"] == h["kid"] {
			if k["kty"] != "OKP" || k["crv"] != "Ed25519" {
				t.Fatalf("key %v, want kty OKP, crv Ed25519", k)
			}
			x, err := base64.RawURLEncoding.DecodeString(k["x"].(string))
			if err != nil || len(x) != ed25519.PublicKeySize {
				t.Fatalf("key x %v: %v", k["x"], err)
			}
			pub = x
		}
	}
	if pub == nil {
		t.Fatalf("no key in %s has the access token's kid %v", r.Body, h["kid"])
	}

	tok, err := jwt.Parse(s.access, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		t.Fatalf("access token does not verify with the published key: %v", err)
	}
	if sub, _ := tok.Claims.GetSubject(); sub != c.me(s.access).ID {
		t.Errorf("verified sub %q is not the user's id", sub)
	}
}

func TestExpiredAccessTokenIsRefused(t *testing.T) {
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) {
		cfg.AccessTokenTTL = 2 * time.Second // tokens carry whole seconds: 1 s could expire at once
		cfg.TokenLeeway = 0
	}))
	s := c.signup("Shortlived")
	if s.expiresIn != 2 {
		t.Errorf("expires_in %d, want ACCESS_TOKEN_TTL 2", s.expiresIn)
	}
	c.me(s.access)

	_, claims := jwtParts(t, s.access)
	time.Sleep(time.Until(time.Unix(int64(claims["exp"].(float64)), 0)) + 200*time.Millisecond)
	c.wantAccessRefused(s.access)

	// The session outlives its access token: a refresh gives a working one.
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	c.me(next.access)
}

func TestUnknownRoutesAndMethodsAnswerProblems(t *testing.T) {
	c := newApp(t)
	c.do(http.MethodGet, base+"/nope", nil, malformed()).wantProblem(t, http.StatusNotFound)
	c.do(http.MethodGet, base+"/signup", nil, malformed()).wantProblem(t, http.StatusMethodNotAllowed)
}
