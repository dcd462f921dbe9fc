package bootstrap_test

// The standalone token verifier (adapters/tokenverify) against the real
// service: tokens it issues verify, rotated keys are picked up and retired
// ones stop verifying, forged tokens fail, the middleware answers exactly as
// the service does, and followed revocation events refuse sessions at once.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/adapters/tokenverify"
	"example.com/usersvc/adapters/tokenverify/tokengin"
	"example.com/usersvc/bootstrap"
)

// jwksPath is where the service serves its key set.
const jwksPath = "/.well-known/jwks.json"

// newVerifier starts a Verifier on the key set at jwksURL for t and closes
// it when t ends.
func newVerifier(t *testing.T, jwksURL string, change ...func(*tokenverify.Config)) *tokenverify.Verifier {
	t.Helper()
	cfg := tokenverify.Config{JWKSURL: jwksURL}
	for _, f := range change {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := tokenverify.New(ctx, cfg)
	if err != nil {
		t.Fatalf("tokenverify.New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// verify runs v.Verify with a deadline.
func verify(v *tokenverify.Verifier, token string) (tokenverify.Principal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return v.Verify(ctx, token)
}

// principalOf is who the service says s acts for: the user of /me and the
// current session of /me/sessions.
func (c *client) principalOf(s session) tokenverify.Principal {
	c.t.Helper()
	p := tokenverify.Principal{UserID: c.me(s.access).ID}
	for _, rs := range c.sessions(s.access) {
		if rs.Current {
			p.SessionID = rs.ID
		}
	}
	if p.UserID == "" || p.SessionID == "" {
		c.t.Fatalf("the service names no user or current session: %+v", p)
	}
	return p
}

// wantPrincipal fails unless token verifies to want's user and session.
func wantPrincipal(t *testing.T, v *tokenverify.Verifier, token string, want tokenverify.Principal) tokenverify.Principal {
	t.Helper()
	got, err := verify(v, token)
	if err != nil {
		t.Fatalf("Verify refused a token the service issued: %v", err)
	}
	if got.UserID != want.UserID || got.SessionID != want.SessionID {
		t.Fatalf("Verify gave user %s session %s, the service says user %s session %s", got.UserID, got.SessionID, want.UserID, want.SessionID)
	}
	if got.TokenID == "" || got.IssuedAt.IsZero() || !got.ExpiresAt.After(time.Now()) {
		t.Errorf("principal %+v, want a jti, an iat and an exp in the future", got)
	}
	return got
}

// wantRefused fails unless v refuses token with an error wrapping
// ErrInvalidToken that does not quote the token.
func wantRefused(t *testing.T, v *tokenverify.Verifier, token string) error {
	t.Helper()
	_, err := verify(v, token)
	if !errors.Is(err, tokenverify.ErrInvalidToken) {
		t.Fatalf("Verify gave %v, want an error wrapping ErrInvalidToken", err)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 && strings.Contains(err.Error(), part) {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
	return err
}

func TestVerifierTrustsTheServicesTokens(t *testing.T) {
	svc := newApp(t, onDatabase(sqliteDB))
	s := svc.signup("Verified1")
	want := svc.principalOf(s)
	v := newVerifier(t, svc.app.url+jwksPath)

	got := wantPrincipal(t, v, s.access, want)
	if d := got.ExpiresAt.Sub(got.IssuedAt); d != time.Duration(s.expiresIn)*time.Second {
		t.Errorf("the token lives %s, the service said expires_in %d", d, s.expiresIn)
	}
	// A second session of the same user is a second principal.
	s2 := svc.login("Verified1", goodPassword)
	got2 := wantPrincipal(t, v, s2.access, svc.principalOf(s2))
	if got2.SessionID == got.SessionID {
		t.Errorf("two sessions verified to one session id %s", got.SessionID)
	}
	// The refresh token (a JWT of the same key) is not an access token.
	wantRefused(t, v, s.refresh)
}

// switchingProxy serves the service that target names and counts the
// fetches of the key set made with ?from=counted (other verifiers may fetch
// it on their own timers meanwhile): a restart of the service with other
// keys, behind one URL.
type switchingProxy struct {
	url       string
	target    atomic.Pointer[url.URL]
	jwksReads atomic.Int64
}

func newSwitchingProxy(t *testing.T, to *client) *switchingProxy {
	t.Helper()
	p := &switchingProxy{}
	p.point(to)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(p.target.Load()) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == jwksPath && r.URL.Query().Get("from") == "counted" {
			p.jwksReads.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *switchingProxy) point(to *client) {
	u, err := url.Parse(to.app.url)
	if err != nil {
		panic(err)
	}
	p.target.Store(u)
}

// withKeys configures SIGNING_KEY_FILES.
func withKeys(paths ...string) option {
	return withConfig(func(c *bootstrap.Config) { c.SigningKeyFiles = paths })
}

func TestVerifierFollowsKeyRotationAndRetirement(t *testing.T) {
	// One database, three generations of the service behind one URL: key 1
	// only; keys 1 and 2 (2 signs); key 2 only (1 retired).
	first := newApp(t)
	oldKey := filepath.Join(first.app.dataDir, tokens.DevKeyFile)
	newKey, _ := writeSigningKey(t, t.TempDir(), "next-key.pem")
	proxy := newSwitchingProxy(t, first)

	s1 := first.signup("Rotated1")
	p1 := first.principalOf(s1)
	// lazy refreshes only on unknown kids; eager also on a short timer.
	lazy := newVerifier(t, proxy.url+jwksPath+"?from=counted", func(c *tokenverify.Config) { c.RefreshInterval = time.Hour })
	eager := newVerifier(t, proxy.url+jwksPath, func(c *tokenverify.Config) { c.RefreshInterval = 200 * time.Millisecond })
	wantPrincipal(t, lazy, s1.access, p1)
	wantPrincipal(t, eager, s1.access, p1)

	rotated := newApp(t, sharingDatabaseOf(first), withKeys(oldKey, newKey))
	proxy.point(rotated)
	s2 := rotated.login("Rotated1", goodPassword)
	if h1, _ := jwtParts(t, s1.access); h1["kid"] == func() any { h2, _ := jwtParts(t, s2.access); return h2["kid"] }() {
		t.Fatalf("the rotated service signs with the old kid %v", h1["kid"])
	}
	p2 := rotated.principalOf(s2)
	before := proxy.jwksReads.Load()
	// The new kid is unknown to lazy, whose timer would wait an hour: it
	// fetches the key set once, on the spot.
	wantPrincipal(t, lazy, s2.access, p2)
	if n := proxy.jwksReads.Load() - before; n != 1 {
		t.Errorf("verifying a token of the new key fetched the key set %d times, want 1", n)
	}
	wantPrincipal(t, lazy, s1.access, p1) // the old key still verifies while it is configured

	// Tokens naming kids nobody knows cost no more fetches (rate limited)
	// and no wait.
	before = proxy.jwksReads.Load()
	start := time.Now()
	for range 5 {
		wantRefused(t, lazy, signWith(t, freshKey(t), "no-such-kid-"+rand.Text(), accessClaims(p1)))
	}
	if n := proxy.jwksReads.Load() - before; n != 0 {
		t.Errorf("5 tokens with unknown kids fetched the key set %d times, want 0 within the rate limit", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing 5 tokens with unknown kids took %s", d)
	}

	retired := newApp(t, sharingDatabaseOf(first), withKeys(newKey))
	proxy.point(retired)
	retired.do(http.MethodGet, base+"/me", nil, bearer(s1.access)).wantProblem(t, http.StatusUnauthorized)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := verify(eager, s1.access); err != nil {
			if !errors.Is(err, tokenverify.ErrInvalidToken) {
				t.Fatalf("a token of the retired key: %v, want ErrInvalidToken", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a token of the retired key still verifies 5 s after the key left the key set")
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantPrincipal(t, eager, s2.access, p2) // the new key goes on verifying
}

// freshKey is an Ed25519 key the service does not know.
func freshKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// serviceKey reads the development signing key of svc.
func serviceKey(t *testing.T, svc *client) ed25519.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(svc.app.dataDir, tokens.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("the signing key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(ed25519.PrivateKey)
}

// accessClaims are the claims the service gives an access token of p, valid
// now for 15 minutes.
func accessClaims(p tokenverify.Principal) jwt.MapClaims {
	now := time.Now().Unix()
	return jwt.MapClaims{
		"iss": "usersvc", "aud": "usersvc", "sub": p.UserID, "sid": p.SessionID,
		"jti": rand.Text(), "iat": now, "nbf": now, "exp": now + 900,
	}
}

// signWith signs claims as an access token (EdDSA, typ at+jwt) with key,
// naming kid.
func signWith(t *testing.T, key ed25519.PrivateKey, kid string, claims jwt.Claims, header ...map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	for _, h := range header {
		for k, v := range h {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifierRefusesForgedAndWrongTokens(t *testing.T) {
	svc := newApp(t, onDatabase(sqliteDB))
	s := svc.signup("Forged1")
	p := svc.principalOf(s)
	key := serviceKey(t, svc)
	kid := tokens.Thumbprint(key.Public().(ed25519.PublicKey))
	v := newVerifier(t, svc.app.url+jwksPath)

	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := accessClaims(p)
		change(c)
		return c
	}
	// The test's own signing is right: a token it makes with the service's
	// key verifies, on the verifier and on the service, so each case below
	// fails for its one difference.
	good := signWith(t, key, kid, accessClaims(p))
	wantPrincipal(t, v, good, p)
	svc.do(http.MethodGet, base+"/me", nil, bearer(good)).wantStatus(t, http.StatusOK)

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, accessClaims(p)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	noneWithKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, accessClaims(p))
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hmac := func() string {
		// alg confusion: HS256 keyed with the public key's bytes
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims(p))
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
		s, err := tok.SignedString([]byte(key.Public().(ed25519.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	tampered := func() string {
		parts := strings.Split(s.access, ".")
		var c map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(b, &c)
		c["sub"] = "0193a000-0000-7000-8000-000000000001"
		b, _ = json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(b)
		return strings.Join(parts, ".")
	}()
	past := time.Now().Add(-time.Hour).Unix()
	future := time.Now().Add(time.Hour).Unix()

	cases := map[string]string{
		"forged: other key, same kid":             signWith(t, freshKey(t), kid, accessClaims(p)),
		"alg none":                                none,
		"alg none with kid and typ":               noneWithKid,
		"alg HS256 with the public key as secret": hmac,
		"tampered payload":                        tampered,
		"wrong issuer":                            signWith(t, key, kid, with(func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		"wrong audience":                          signWith(t, key, kid, with(func(c jwt.MapClaims) { c["aud"] = "another-service" })),
		"expired":                                 signWith(t, key, kid, with(func(c jwt.MapClaims) { c["iat"], c["nbf"], c["exp"] = past-900, past-900, past })),
		"not valid yet":                           signWith(t, key, kid, with(func(c jwt.MapClaims) { c["nbf"] = future })),
		"issued in the future":                    signWith(t, key, kid, with(func(c jwt.MapClaims) { c["iat"], c["nbf"] = future, future })),
		"no exp":                                  signWith(t, key, kid, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no nbf":                                  signWith(t, key, kid, with(func(c jwt.MapClaims) { delete(c, "nbf") })),
		"no sid":                                  signWith(t, key, kid, with(func(c jwt.MapClaims) { delete(c, "sid") })),
		"sub not a user id":                       signWith(t, key, kid, with(func(c jwt.MapClaims) { c["sub"] = "alice" })),
		"typ refresh+jwt":                         signWith(t, key, kid, accessClaims(p), map[string]any{"typ": "refresh+jwt"}),
		"typ JWT":                                 signWith(t, key, kid, accessClaims(p), map[string]any{"typ": "JWT"}),
		"no typ":                                  signWith(t, key, kid, accessClaims(p), map[string]any{"typ": nil}),
		"no kid":                                  signWith(t, key, kid, accessClaims(p), map[string]any{"kid": nil}),
		"crit header":                             signWith(t, key, kid, accessClaims(p), map[string]any{"crit": []string{"exp"}}),
		"the service's refresh token":             s.refresh,
		"garbage":                                 "not-a-jwt",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			wantRefused(t, v, tok)
			// The service refuses it too: the verifier is as strict as the
			// service, not stricter on what the service itself accepts.
			svc.with(t).do(http.MethodGet, base+"/me", nil, bearer(tok)).wantProblem(t, http.StatusUnauthorized)
		})
	}
	// The leeway is small, not zero: five seconds of skew still pass on both.
	skewed := signWith(t, key, kid, with(func(c jwt.MapClaims) {
		soon := time.Now().Add(3 * time.Second).Unix()
		c["iat"], c["nbf"] = soon, soon
	}))
	wantPrincipal(t, v, skewed, p)
}

// otherService is another team's service guarding one route with the
// verifier, on net/http and on gin, at the path the service uses, so the
// two answers can be compared byte for byte.
func otherService(t *testing.T, v *tokenverify.Verifier, path string) (netHTTP, ginURL string) {
	t.Helper()
	show := func(w http.ResponseWriter, p tokenverify.Principal, ok bool) {
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"user": p.UserID, "session": p.SessionID})
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+path, v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := tokenverify.PrincipalFrom(r.Context())
		show(w, p, ok)
	})))
	a := httptest.NewServer(mux)
	t.Cleanup(a.Close)

	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.GET(path, tokengin.Require(v), func(c *gin.Context) {
		p, ok := tokengin.Principal(c)
		show(c.Writer, p, ok)
	})
	b := httptest.NewServer(engine)
	t.Cleanup(b.Close)
	return a.URL, b.URL
}

func TestVerifierMiddlewareAnswersLikeTheService(t *testing.T) {
	svc := newApp(t, onDatabase(sqliteDB))
	s := svc.signup("Guarded1")
	p := svc.principalOf(s)
	v := newVerifier(t, svc.app.url+jwksPath)
	key := serviceKey(t, svc)
	kid := tokens.Thumbprint(key.Public().(ed25519.PublicKey))
	expired := accessClaims(p)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	netURL, ginURL := otherService(t, v, base+"/me")

	get := func(t *testing.T, url, authorization, requestID string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url+base+"/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		req.Header.Set("X-Request-ID", requestID)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}
	for name, authorization := range map[string]string{
		"no header":          "",
		"basic scheme":       "Basic dXNlcjpwYXNz",
		"empty bearer":       "Bearer ",
		"garbage":            "Bearer not-a-jwt",
		"forged":             "Bearer " + signWith(t, freshKey(t), kid, accessClaims(p)),
		"expired":            "Bearer " + signWith(t, key, kid, expired),
		"refresh as access":  "Bearer " + s.refresh,
		"lower-case bearer ": "bearer " + signWith(t, freshKey(t), kid, accessClaims(p)),
	} {
		t.Run(name, func(t *testing.T) {
			id := "req-" + strings.ReplaceAll(name, " ", "-")
			want, wantBody := get(t, svc.app.url, authorization, id)
			if want.StatusCode != http.StatusUnauthorized {
				t.Fatalf("the service answered %d, want 401", want.StatusCode)
			}
			for impl, url := range map[string]string{"net/http": netURL, "gin": ginURL} {
				got, gotBody := get(t, url, authorization, id)
				if got.StatusCode != want.StatusCode {
					t.Errorf("%s: status %d, the service %d", impl, got.StatusCode, want.StatusCode)
				}
				for _, h := range []string{"Content-Type", "WWW-Authenticate", "Cache-Control", "X-Request-ID"} {
					if got.Header.Get(h) != want.Header.Get(h) {
						t.Errorf("%s: %s %q, the service %q", impl, h, got.Header.Get(h), want.Header.Get(h))
					}
				}
				if string(gotBody) != string(wantBody) {
					t.Errorf("%s: body\n%s\nthe service's\n%s", impl, gotBody, wantBody)
				}
			}
		})
	}
	// Every field the service writes is there (a new one would show above as
	// a byte difference; this names the ones that matter).
	_, body := get(t, netURL, "", "req-fields")
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["type"] != "about:blank" || doc["title"] != "Unauthorized" || doc["status"] != 401.0 ||
		doc["detail"] != "missing bearer access token" || doc["instance"] != base+"/me" || doc["request_id"] != "req-fields" {
		t.Errorf("problem %s", body)
	}

	// A valid token reaches the handler with its principal, on both.
	for impl, url := range map[string]string{"net/http": netURL, "gin": ginURL} {
		res, body := get(t, url, "Bearer "+s.access, "req-ok")
		var seen map[string]string
		if res.StatusCode != http.StatusOK || json.Unmarshal(body, &seen) != nil || seen["user"] != p.UserID || seen["session"] != p.SessionID {
			t.Errorf("%s: %d %s, want 200 with user %s session %s", impl, res.StatusCode, body, p.UserID, p.SessionID)
		}
	}
	// Without an X-Request-ID the answer makes one and says it, as the
	// service does.
	res, body := get(t, netURL, "", "not a well-formed id")
	if id := res.Header.Get("X-Request-ID"); id == "" || !strings.Contains(string(body), `"request_id":"`+id+`"`) {
		t.Errorf("X-Request-ID %q, body %s: want a new id in both", id, body)
	}
}
