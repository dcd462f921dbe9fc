package tokenverify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"example.com/usersvc/adapters/tokenverify"
)

// keySet serves a one-key JWKS as the service does and returns a token of
// that key.
func keySet(tb testing.TB) (url, token string) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	const kid = "k1"
	jwks := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q,"alg":"EdDSA","use":"sig"}]}`,
		base64.RawURLEncoding.EncodeToString(pub), kid)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(jwks))
	}))
	tb.Cleanup(srv.Close)
	now := time.Now().Unix()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "usersvc", "aud": "usersvc", "sub": "0193a000-0000-7000-8000-000000000001",
		"sid": "0193a000-0000-7000-8000-000000000002", "jti": "j", "iat": now, "nbf": now, "exp": now + 900,
	})
	tok.Header["typ"], tok.Header["kid"] = "at+jwt", kid
	s, err := tok.SignedString(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return srv.URL, s
}

// BenchmarkVerify measures one verification on cached keys: the cost a
// guarded request pays (an Ed25519 signature check dominates).
func BenchmarkVerify(b *testing.B) {
	url, token := keySet(b)
	v, err := tokenverify.New(context.Background(), tokenverify.Config{JWKSURL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// A key set that stalls costs a request with an unknown kid at most a
// couple of seconds, and a token of a cached key nothing.
func TestStalledKeySetDoesNotHoldRequests(t *testing.T) {
	url, token := keySet(t)
	stall := make(chan struct{})
	defer close(stall)
	var served atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Swap(true) {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		res, err := http.Get(url)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = io.Copy(w, res.Body)
	}))
	defer proxy.Close()
	v, err := tokenverify.New(context.Background(), tokenverify.Config{JWKSURL: proxy.URL, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	unknown := func() string {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		now := time.Now().Unix()
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "usersvc", "aud": "usersvc", "iat": now, "nbf": now, "exp": now + 60})
		tok.Header["typ"], tok.Header["kid"] = "at+jwt", "rotated-kid"
		s, _ := tok.SignedString(priv)
		return s
	}()
	start := time.Now()
	if _, err := v.Verify(context.Background(), unknown); !errors.Is(err, tokenverify.ErrInvalidToken) {
		t.Fatalf("unknown kid on a stalled key set: %v, want ErrInvalidToken", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("an unknown kid on a stalled key set held the request %s", d)
	}
	start = time.Now()
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("a token of the cached key: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a token of the cached key took %s while the key set stalls", d)
	}
}
