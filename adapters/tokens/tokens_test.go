package tokens_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// clock is a settable ports.Clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t testing.TB, keys ...ed25519.PrivateKey) *tokens.Keyring {
	t.Helper()
	r, err := tokens.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var opts = tokens.Options{Issuer: "https://auth.example", Audience: "users-api", AccessTTL: 15 * time.Minute}

func ids() (user.ID, user.SessionID, user.TokenID) {
	return user.ID(uuid.Must(uuid.NewV7())), user.SessionID(uuid.Must(uuid.NewV7())), user.TokenID(uuid.Must(uuid.NewV7()))
}

// segments decodes a JWT's header and payload.
func segments(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestAccessRoundTrip(t *testing.T) {
	clk := &clock{now: t0.Add(123 * time.Millisecond)}
	kr := ring(t, newKey(t))
	iss := tokens.NewIssuer(kr, clk, opts)
	uid, sid, _ := ids()

	tok, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid), TokenID: "jti-1"})
	if err != nil {
		t.Fatal(err)
	}
	h, p := segments(t, tok)
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != kr.SigningKeyID() || len(h) != 3 {
		t.Errorf("header = %v", h)
	}
	if got, want := keysOf(p), []string{"aud", "exp", "iat", "iss", "jti", "nbf", "sid", "sub"}; !slices.Equal(got, want) {
		t.Errorf("claims = %v, want %v", got, want)
	}
	if p["iss"] != opts.Issuer || p["aud"] != opts.Audience || p["sub"] != uid.String() || p["sid"] != sid.String() {
		t.Errorf("payload = %v", p)
	}

	clk.Set(t0.Add(14 * time.Minute))
	got, err := iss.VerifyAccess(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := ports.AccessClaims{Principal: principal(uid, sid), TokenID: "jti-1", IssuedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
	if got != want {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
	if iss.AccessTTL() != 15*time.Minute {
		t.Errorf("AccessTTL = %v", iss.AccessTTL())
	}
}

func TestAccessExplicitTimesAndRandomJTI(t *testing.T) {
	clk := &clock{now: t0}
	iss := tokens.NewIssuer(ring(t, newKey(t)), clk, opts)
	uid, sid, _ := ids()
	c := ports.AccessClaims{Principal: principal(uid, sid), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	a, err := iss.IssueAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := iss.IssueAccess(c)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iss.VerifyAccess(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := iss.VerifyAccess(b)
	if err != nil {
		t.Fatal(err)
	}
	if ca.TokenID == "" || ca.TokenID == cb.TokenID {
		t.Errorf("jti %q and %q: want distinct random ids", ca.TokenID, cb.TokenID)
	}
	if !ca.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("exp = %v", ca.ExpiresAt)
	}
}

func TestRefreshRoundTripIsDeterministic(t *testing.T) {
	clk := &clock{now: t0}
	iss := tokens.NewIssuer(ring(t, newKey(t)), clk, opts)
	uid, sid, tid := ids()
	c := userports.RefreshClaims{UserID: uid, SessionID: sid, Token: user.RefreshToken{
		ID: tid, IssuedAt: t0.Add(456 * time.Microsecond), ExpiresAt: t0.Add(168 * time.Hour),
	}}
	a, err := iss.IssueRefresh(c)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Hour)) // the clock plays no part in a refresh token
	b, err := iss.IssueRefresh(c)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same claims gave different tokens:\n%s\n%s", a, b)
	}
	h, p := segments(t, a)
	if h["alg"] != "EdDSA" || h["typ"] != "refresh+jwt" || h["kid"] == nil {
		t.Errorf("header = %v", h)
	}
	if got, want := keysOf(p), []string{"aud", "exp", "iat", "iss", "jti", "sid", "sub"}; !slices.Equal(got, want) {
		t.Errorf("claims = %v, want %v", got, want)
	}
	got, err := iss.VerifyRefresh(a)
	if err != nil {
		t.Fatal(err)
	}
	want := userports.RefreshClaims{UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, IssuedAt: t0, ExpiresAt: t0.Add(168 * time.Hour)}}
	if got != want {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
}

func TestKindsAreNotInterchangeable(t *testing.T) {
	clk := &clock{now: t0}
	iss := tokens.NewIssuer(ring(t, newKey(t)), clk, opts)
	uid, sid, tid := ids()
	access, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid), TokenID: tid.String()})
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := iss.IssueRefresh(userports.RefreshClaims{UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.VerifyRefresh(access); !errors.Is(err, user.ErrSessionInvalid) {
		t.Errorf("access token as refresh: err = %v, want ErrSessionInvalid", err)
	}
	if _, err := iss.VerifyAccess(refresh); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Errorf("refresh token as access: err = %v, want ErrUnauthenticated", err)
	}
}

func TestIssueRefusesIncompleteClaims(t *testing.T) {
	iss := tokens.NewIssuer(ring(t, newKey(t)), &clock{now: t0}, opts)
	uid, sid, tid := ids()
	for name, c := range map[string]ports.AccessClaims{
		"no user":         {Principal: ports.Principal{SessionID: uuid.UUID(sid)}},
		"no session":      {Principal: ports.Principal{UserID: uuid.UUID(uid)}},
		"expires at once": {Principal: principal(uid, sid), IssuedAt: t0, ExpiresAt: t0},
	} {
		if _, err := iss.IssueAccess(c); err == nil {
			t.Errorf("IssueAccess %s: no error", name)
		}
	}
	rt := user.RefreshToken{ID: tid, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for name, c := range map[string]userports.RefreshClaims{
		"no token id":    {UserID: uid, SessionID: sid, Token: user.RefreshToken{IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}},
		"no issue time":  {UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, ExpiresAt: t0.Add(time.Hour)}},
		"no expiry":      {UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, IssuedAt: t0}},
		"no session id":  {UserID: uid, Token: rt},
		"no user id":     {SessionID: sid, Token: rt},
		"expiry is past": {UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, IssuedAt: t0, ExpiresAt: t0.Add(-time.Hour)}},
	} {
		if _, err := iss.IssueRefresh(c); err == nil {
			t.Errorf("IssueRefresh %s: no error", name)
		}
	}
}

// forge signs arbitrary header fields and claims with any method and key.
func forge(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	clk := &clock{now: t0}
	key := newKey(t)
	kr := ring(t, key)
	kid := kr.SigningKeyID()
	iss := tokens.NewIssuer(kr, clk, tokens.Options{Issuer: opts.Issuer, Audience: opts.Audience, Leeway: 5 * time.Second})
	uid, sid, _ := ids()
	pub := key.Public().(ed25519.PublicKey)

	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": opts.Issuer, "aud": opts.Audience, "sub": uid.String(), "sid": sid.String(),
			"jti": "j1", "iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Minute).Unix(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	hdr := func(typ any, k any) map[string]any { return map[string]any{"typ": typ, "kid": k} }
	good := forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(nil))
	if _, err := iss.VerifyAccess(good); err != nil {
		t.Fatalf("the well-formed forged token must pass, so each case tests one change: %v", err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t)
	parts := strings.Split(good, ".")
	tamperedPayload := func() string {
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		other, _, _ := ids()
		b = []byte(strings.Replace(string(b), uid.String(), other.String(), 1))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	cases := map[string]string{
		"alg none":               forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr("at+jwt", kid), claims(nil)),
		"HS256 with public key":  forge(t, jwt.SigningMethodHS256, []byte(pub), hdr("at+jwt", kid), claims(nil)),
		"HS256 with x of JWK":    forge(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), hdr("at+jwt", kid), claims(nil)),
		"RS256":                  forge(t, jwt.SigningMethodRS256, rsaKey, hdr("at+jwt", kid), claims(nil)),
		"ES256":                  forge(t, jwt.SigningMethodES256, ecKey, hdr("at+jwt", kid), claims(nil)),
		"typ JWT":                forge(t, jwt.SigningMethodEdDSA, key, hdr("JWT", kid), claims(nil)),
		"typ missing":            forge(t, jwt.SigningMethodEdDSA, key, hdr(nil, kid), claims(nil)),
		"typ refresh":            forge(t, jwt.SigningMethodEdDSA, key, hdr("refresh+jwt", kid), claims(nil)),
		"kid unknown":            forge(t, jwt.SigningMethodEdDSA, other, hdr("at+jwt", tokens.Thumbprint(other.Public().(ed25519.PublicKey))), claims(nil)),
		"kid missing":            forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", nil), claims(nil)),
		"kid of ring, other key": forge(t, jwt.SigningMethodEdDSA, other, hdr("at+jwt", kid), claims(nil)),
		"crit header":            forge(t, jwt.SigningMethodEdDSA, key, map[string]any{"typ": "at+jwt", "kid": kid, "crit": []string{"exp"}}, claims(nil)),
		"wrong iss":              forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"no iss":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":              forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["aud"] = "other-api" })),
		"no aud":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "aud") })),
		"no exp":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no nbf":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "nbf") })),
		"no iat":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "iat") })),
		"expired beyond leeway":  forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["exp"] = t0.Add(-6 * time.Second).Unix() })),
		"nbf in the future":      forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Minute).Unix() })),
		"iat in the future":      forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["iat"] = t0.Add(time.Minute).Unix() })),
		"exp as string":          forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["exp"] = "soon" })),
		"sub not a uuid":         forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["sub"] = "admin" })),
		"sub nil uuid":           forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { c["sub"] = uuid.Nil.String() })),
		"no sid":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "sid") })),
		"no jti":                 forge(t, jwt.SigningMethodEdDSA, key, hdr("at+jwt", kid), claims(func(c jwt.MapClaims) { delete(c, "jti") })),
		"tampered payload":       tamperedPayload,
		"tampered signature":     tamperedSig,
		"signature stripped":     parts[0] + "." + parts[1] + ".",
		"padded segment":         parts[0] + "=." + parts[1] + "." + parts[2],
		"two segments":           parts[0] + "." + parts[1],
		"garbage":                "not-a-token",
		"empty":                  "",
		"oversized":              good + strings.Repeat("A", 5000),
	}
	for name, tok := range cases {
		_, err := iss.VerifyAccess(tok)
		if !errors.Is(err, ports.ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want ErrUnauthenticated", name, err)
			continue
		}
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) > 8 && strings.Contains(err.Error(), seg) {
				t.Errorf("%s: error %q quotes the token", name, err)
			}
		}
		t.Logf("%-24s %v", name, err)
	}
}

func TestLeeway(t *testing.T) {
	clk := &clock{now: t0}
	kr := ring(t, newKey(t))
	uid, sid, _ := ids()
	tok, err := tokens.NewIssuer(kr, clk, opts).IssueAccess(ports.AccessClaims{Principal: principal(uid, sid), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		leeway time.Duration
		at     time.Time
		ok     bool
	}{
		{0, t0.Add(59 * time.Second), true},
		{0, t0.Add(time.Minute), false}, // exp is exclusive
		{5 * time.Second, t0.Add(time.Minute + 4*time.Second), true},
		{5 * time.Second, t0.Add(time.Minute + 6*time.Second), false},
		{time.Hour, t0.Add(time.Minute + 6*time.Second), false}, // clamped to MaxLeeway
		{5 * time.Second, t0.Add(-4 * time.Second), true},       // nbf and iat, early clock
		{5 * time.Second, t0.Add(-6 * time.Second), false},
		{0, t0.Add(-time.Second), false},
	}
	for _, c := range cases {
		clk.Set(c.at)
		o := opts
		o.Leeway = c.leeway
		_, err := tokens.NewIssuer(kr, clk, o).VerifyAccess(tok)
		if (err == nil) != c.ok {
			t.Errorf("leeway %v at exp%+v: err = %v, want ok=%v", c.leeway, c.at.Sub(t0.Add(time.Minute)), err, c.ok)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	pathA := writeKey(t, filepath.Join(dir, "a.pem"), newKey(t))
	pathB := writeKey(t, filepath.Join(dir, "b.pem"), newKey(t))
	clk := &clock{now: t0}
	uid, sid, _ := ids()
	claims := ports.AccessClaims{Principal: principal(uid, sid)}

	// Before rotation: only A.
	ringA, err := tokens.LoadKeys([]string{pathA})
	if err != nil {
		t.Fatal(err)
	}
	byA, err := tokens.NewIssuer(ringA, clk, opts).IssueAccess(claims)
	if err != nil {
		t.Fatal(err)
	}

	// Rotation, step 1: add B as the newest key. B signs, A still verifies.
	ringAB, err := tokens.LoadKeys([]string{pathA, pathB})
	if err != nil {
		t.Fatal(err)
	}
	issAB := tokens.NewIssuer(ringAB, clk, opts)
	if _, err := issAB.VerifyAccess(byA); err != nil {
		t.Errorf("token signed by A, ring [A B]: %v", err)
	}
	byB, err := issAB.IssueAccess(claims)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := segments(t, byB); h["kid"] != ringAB.SigningKeyID() || ringAB.SigningKeyID() == ringA.SigningKeyID() {
		t.Errorf("new token's kid %v, want B's %s", h["kid"], ringAB.SigningKeyID())
	}
	if !slices.Equal(ringAB.KeyIDs(), []string{ringA.SigningKeyID(), ringAB.SigningKeyID()}) {
		t.Errorf("KeyIDs = %v", ringAB.KeyIDs())
	}

	// Step 2, once A's tokens have expired: retire A. Its tokens are rejected.
	ringB, err := tokens.LoadKeys([]string{pathB})
	if err != nil {
		t.Fatal(err)
	}
	issB := tokens.NewIssuer(ringB, clk, opts)
	if _, err := issB.VerifyAccess(byA); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Errorf("token signed by retired key A: err = %v, want ErrUnauthenticated", err)
	}
	if _, err := issB.VerifyAccess(byB); err != nil {
		t.Errorf("token signed by B, ring [B]: %v", err)
	}
}

func writeKey(t *testing.T, path string, k ed25519.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJWKS(t *testing.T) {
	a, b := newKey(t), newKey(t)
	kr := ring(t, a, b)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(kr.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys, want 2: %s", len(set.Keys), kr.JWKS())
	}
	for i, k := range []ed25519.PrivateKey{a, b} {
		pub := k.Public().(ed25519.PublicKey)
		want := map[string]string{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub),
			"kid": tokens.Thumbprint(pub), "alg": "EdDSA", "use": "sig",
		}
		if got := set.Keys[i]; !mapsEqual(got, want) {
			t.Errorf("key %d = %v, want %v", i, got, want)
		}
	}
	if strings.Contains(string(kr.JWKS()), `"d"`) {
		t.Error("JWKS contains private key material")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestThumbprintRFC8037 checks the kid against RFC 8037 appendix A.1 and A.3.
func TestThumbprintRFC8037(t *testing.T) {
	d, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	kr := ring(t, ed25519.NewKeyFromSeed(d))
	if got, want := kr.SigningKeyID(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("kid = %s, want %s", got, want)
	}
	if !strings.Contains(string(kr.JWKS()), `"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`) {
		t.Errorf("JWKS %s lacks the RFC's x", kr.JWKS())
	}
}

func TestEnsureDevKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path, created, err := tokens.EnsureDevKey(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v, want true nil", created, err)
	}
	if path != filepath.Join(dir, tokens.DevKeyFile) {
		t.Errorf("path = %s", path)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	path2, created, err := tokens.EnsureDevKey(dir)
	if err != nil || created || path2 != path {
		t.Fatalf("second call: path=%s created=%v err=%v, want same path, false, nil", path2, created, err)
	}
	second, _ := os.ReadFile(path)
	if string(first) != string(second) {
		t.Error("second call replaced the key")
	}
	if _, err := tokens.LoadKeys([]string{path}); err != nil {
		t.Errorf("LoadKeys of the generated key: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only the key", len(entries))
	}
}

func TestEnsureDevKeyConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	var createdCount sync.Map
	for i := range 8 {
		wg.Go(func() {
			_, created, err := tokens.EnsureDevKey(dir)
			if err != nil {
				t.Error(err)
			}
			createdCount.Store(i, created)
		})
	}
	wg.Wait()
	n := 0
	createdCount.Range(func(_, v any) bool {
		if v.(bool) {
			n++
		}
		return true
	})
	if n != 1 {
		t.Errorf("%d calls report creating the key, want 1", n)
	}
}

func TestLoadKeysErrors(t *testing.T) {
	dir := t.TempDir()
	ed := newKey(t)
	edPath := writeKey(t, filepath.Join(dir, "ed.pem"), ed)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	files := map[string][]byte{
		"rsa.pem":     rsaPEM,
		"text.pem":    []byte("hello"),
		"public.pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"corrupt.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER[:20]}),
		"two.pem":     append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), rsaPEM...),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"none":      nil,
		"missing":   {filepath.Join(dir, "missing.pem")},
		"duplicate": {edPath, edPath},
	}
	for name := range files {
		cases[name] = []string{filepath.Join(dir, name)}
	}
	for name, paths := range cases {
		_, err := tokens.LoadKeys(paths)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(edDER)[30:60]) {
			t.Errorf("%s: error quotes key material: %v", name, err)
		}
	}
}

func TestRefreshRejects(t *testing.T) {
	clk := &clock{now: t0}
	key := newKey(t)
	kr := ring(t, key)
	iss := tokens.NewIssuer(kr, clk, opts)
	uid, sid, tid := ids()
	tok, err := iss.IssueRefresh(userports.RefreshClaims{UserID: uid, SessionID: sid, Token: user.RefreshToken{ID: tid, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Hour))
	if _, err := iss.VerifyRefresh(tok); !errors.Is(err, user.ErrSessionInvalid) {
		t.Errorf("expired refresh token: err = %v, want ErrSessionInvalid", err)
	}
	clk.Set(t0)
	badJTI := forge(t, jwt.SigningMethodEdDSA, key, map[string]any{"typ": "refresh+jwt", "kid": kr.SigningKeyID()}, jwt.MapClaims{
		"iss": opts.Issuer, "aud": opts.Audience, "sub": uid.String(), "sid": sid.String(),
		"jti": "not-a-uuid", "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix(),
	})
	if _, err := iss.VerifyRefresh(badJTI); !errors.Is(err, user.ErrSessionInvalid) {
		t.Errorf("refresh token with a non-UUID jti: err = %v, want ErrSessionInvalid", err)
	}
}

func BenchmarkIssueAccess(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	kr, _ := tokens.NewKeyring(key)
	iss := tokens.NewIssuer(kr, &clock{now: t0}, opts)
	uid, sid, _ := ids()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccess is the full check of a token not seen before (the
// verified-token cache is off).
func BenchmarkVerifyAccess(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	kr, _ := tokens.NewKeyring(key)
	o := opts
	o.VerifiedCacheSize = -1
	iss := tokens.NewIssuer(kr, &clock{now: t0}, o)
	uid, sid, _ := ids()
	tok, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.VerifyAccess(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func principal(uid user.ID, sid user.SessionID) ports.Principal {
	return ports.Principal{UserID: uuid.UUID(uid), SessionID: uuid.UUID(sid)}
}
