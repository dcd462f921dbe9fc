package tokens_test

import (
	"errors"
	"testing"
	"time"

	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/ports"
)

// TestVerifiedTokensAreRememberedOnlyUntilTheyExpire: the second check of a
// token comes from the cache, yet an expired token is refused even though
// it was remembered, and a token differing in one byte is checked in full.
func TestVerifiedTokensAreRememberedOnlyUntilTheyExpire(t *testing.T) {
	clk := &clock{now: t0}
	o := opts
	o.Leeway = 2 * time.Second
	iss := tokens.NewIssuer(ring(t, newKey(t)), clk, o)
	uid, sid, _ := ids()
	tok, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := iss.VerifyAccess(tok)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Minute + 2*time.Second)) // at exp + leeway: still valid
	if again, err := iss.VerifyAccess(tok); err != nil || again != first {
		t.Fatalf("the remembered token: %+v, %v; want %+v", again, err, first)
	}
	swap := byte('A')
	if tok[len(tok)-2] == 'A' {
		swap = 'B'
	}
	tampered := tok[:len(tok)-2] + string(swap) + tok[len(tok)-1:]
	if _, err := iss.VerifyAccess(tampered); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("a token one byte off from a remembered one: %v, want refused", err)
	}
	clk.Set(t0.Add(time.Minute + 3*time.Second))
	if _, err := iss.VerifyAccess(tok); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("an expired token that was remembered: %v, want refused", err)
	}
}

// TestTheVerifiedCacheIsBounded: with room for two tokens, many verified
// tokens keep verifying (each is checked in full when it is not
// remembered) and nothing grows without bound.
func TestTheVerifiedCacheIsBounded(t *testing.T) {
	clk := &clock{now: t0}
	o := opts
	o.VerifiedCacheSize = 2
	iss := tokens.NewIssuer(ring(t, newKey(t)), clk, o)
	var toks []string
	for range 10 {
		uid, sid, _ := ids()
		tok, err := iss.IssueAccess(ports.AccessClaims{Principal: principal(uid, sid)})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for round := range 3 {
		for i, tok := range toks {
			if _, err := iss.VerifyAccess(tok); err != nil {
				t.Fatalf("round %d, token %d: %v", round, i, err)
			}
		}
	}
	if n := tokens.VerifiedCacheLen(iss); n > 2 {
		t.Fatalf("the cache holds %d tokens, bound 2", n)
	}
}

func BenchmarkVerifyAccessCached(b *testing.B) {
	iss := tokens.NewIssuer(ring(b, newKey(b)), &clock{now: t0}, opts)
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
