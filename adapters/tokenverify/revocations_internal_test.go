package tokenverify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

func uuidN(n int) string { return fmt.Sprintf("0193a000-0000-7000-8000-%012x", n) }

func TestRevokedSessionIsRefusedUntilItsTokensExpire(t *testing.T) {
	keep := 15*time.Minute + 5*time.Second
	s := newRevocationSet(keep, 0)
	p := Principal{UserID: uuidN(1), SessionID: uuidN(2), IssuedAt: t0.Add(-time.Minute)}
	if why := s.refuses(p, t0, 5*time.Second); why != "" {
		t.Fatalf("refused before any revocation: %s", why)
	}
	s.revokeSession(p.SessionID, t0, t0)
	if why := s.refuses(p, t0.Add(time.Second), 5*time.Second); why != "session revoked" {
		t.Errorf("just after the revocation: %q, want session revoked", why)
	}
	other := Principal{UserID: p.UserID, SessionID: uuidN(3), IssuedAt: p.IssuedAt}
	if why := s.refuses(other, t0.Add(time.Second), 5*time.Second); why != "" {
		t.Errorf("another session of the user refused: %s", why)
	}
	if why := s.refuses(p, t0.Add(keep-time.Second), 5*time.Second); why == "" {
		t.Error("forgotten before its tokens could have expired")
	}
	if why := s.refuses(p, t0.Add(keep), 5*time.Second); why != "" {
		t.Errorf("still refused once every token of it expired: %s", why)
	}
	// The entry is dropped at the next write after it is due.
	s.revokeSession(uuidN(9), t0.Add(keep), t0.Add(keep))
	if n := s.size(); n != 1 {
		t.Errorf("%d entries remembered, want 1 (the expired one dropped)", n)
	}
}

func TestOldRevocationsAddNothing(t *testing.T) {
	s := newRevocationSet(time.Minute, 0)
	s.revokeSession(uuidN(1), t0.Add(-2*time.Minute), t0) // replayed after its tokens expired
	s.revokeUser(uuidN(2), t0.Add(-2*time.Minute), t0)
	if n := s.size(); n != 0 {
		t.Errorf("%d entries for revocations whose tokens all expired, want 0", n)
	}
}

func TestRevokedUserRefusesOnlyTokensIssuedBefore(t *testing.T) {
	s := newRevocationSet(time.Hour, 0)
	uid := uuidN(1)
	s.revokeUser(uid, t0, t0)
	before := Principal{UserID: uid, SessionID: uuidN(2), IssuedAt: t0.Add(-time.Minute)}
	sameSecond := Principal{UserID: uid, SessionID: uuidN(3), IssuedAt: t0.Add(2 * time.Second)}
	after := Principal{UserID: uid, SessionID: uuidN(4), IssuedAt: t0.Add(time.Minute)} // enabled again, signed in anew
	now := t0.Add(2 * time.Minute)
	if why := s.refuses(before, now, 5*time.Second); why != "user disabled or deleted" {
		t.Errorf("token issued before: %q, want user disabled or deleted", why)
	}
	if why := s.refuses(sameSecond, now, 5*time.Second); why == "" {
		t.Error("token issued within the leeway of the revocation accepted")
	}
	if why := s.refuses(after, now, 5*time.Second); why != "" {
		t.Errorf("token issued after the user came back refused: %s", why)
	}
}

func TestRevocationSetIsBounded(t *testing.T) {
	s := newRevocationSet(time.Hour, 100)
	for i := range 1000 {
		s.revokeSession(uuidN(i), t0.Add(time.Duration(i)*time.Second), t0)
	}
	if n := s.size(); n > 100 {
		t.Fatalf("%d entries remembered, want at most 100", n)
	}
	// What goes first is what would have been forgotten soonest.
	if why := s.refuses(Principal{SessionID: uuidN(999)}, t0, 0); why == "" {
		t.Error("the newest revocation was dropped")
	}
	if why := s.refuses(Principal{SessionID: uuidN(0)}, t0, 0); why != "" {
		t.Error("the oldest revocation was kept over newer ones")
	}
}

func TestApplyReadsTheServicesEvents(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := newRevocationSet(time.Hour, 0)
	now := t0.Add(time.Second)
	for _, body := range []string{
		`not json`,
		`{"specversion":"0.3","type":"session.revoked","data":{"id":"` + uuidN(10) + `"}}`,
		`{"specversion":"1.0","type":"user.updated","data":{"id":"` + uuidN(11) + `"}}`,
		`{"specversion":"1.0","type":"session.revoked","data":{"id":"alice"}}`,
		`{"specversion":"1.0","type":"session.revoked","data":"oops"}`,
	} {
		apply([]byte(body), s, now, log)
	}
	if n := s.size(); n != 0 {
		t.Fatalf("%d entries from events that revoke nothing", n)
	}
	apply([]byte(`{"specversion":"1.0","id":"e1","source":"usersvc","type":"session.revoked","subject":"`+uuidN(1)+
		`","time":"2026-12-02T08:00:00Z","datacontenttype":"application/json","data":{"id":"`+uuidN(2)+
		`","user_id":"`+uuidN(1)+`","at":"2026-12-02T08:00:00Z","reason":"logout"}}`), s, now, log)
	apply([]byte(`{"specversion":"1.0","type":"user.deleted","data":{"id":"`+uuidN(3)+`","at":"2026-12-02T08:00:00Z"}}`), s, now, log)
	apply([]byte(`{"specversion":"1.0","type":"user.disabled","data":{"id":"`+uuidN(4)+`"}}`), s, now, log) // no at: now
	if why := s.refuses(Principal{UserID: uuidN(1), SessionID: uuidN(2)}, now, 0); why != "session revoked" {
		t.Errorf("session.revoked: %q", why)
	}
	if why := s.refuses(Principal{UserID: uuidN(3), SessionID: uuidN(5), IssuedAt: t0}, now, 0); why != "user disabled or deleted" {
		t.Errorf("user.deleted: %q", why)
	}
	if why := s.refuses(Principal{UserID: uuidN(4), SessionID: uuidN(6), IssuedAt: t0}, now, 0); why != "user disabled or deleted" {
		t.Errorf("user.disabled without at: %q", why)
	}
}

func TestNewNeedsAReachableKeySet(t *testing.T) {
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Error("New without a JWKS URL succeeded")
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	if _, err := New(context.Background(), Config{JWKSURL: down.URL}); err == nil {
		t.Error("New succeeded on a key set that answers 503")
	}
	// StartWithoutKeys starts anyway and refuses every token until keys come.
	v, err := New(context.Background(), Config{JWKSURL: down.URL, StartWithoutKeys: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("StartWithoutKeys: %v", err)
	}
	defer v.Close()
	const token = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.e30.c2ln"
	if _, err := v.Verify(context.Background(), token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify without keys: %v, want ErrInvalidToken", err)
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		uuidN(1):                               true,
		"00000000-0000-0000-0000-000000000000": false,
		"0193A000-0000-7000-8000-000000000001": false, // the service writes lower case
		"0193a000000070008000000000000001":     false,
		"":                                     false,
		"0193a000-0000-7000-8000-00000000000g": false,
	} {
		if isUUID(s) != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, !want, want)
		}
	}
}
