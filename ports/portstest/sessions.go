package portstest

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
)

// The contract of the session list, the per-user limit and the clean-up:
// the parts of userports.Sessions that the session routes and the
// periodic removal of ended sessions rely on.

func client(t *testing.T, ip, agent string) user.Client {
	t.Helper()
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return user.Client{IP: addr, UserAgent: user.NewUserAgent(agent)}
}

// sessionAt is a session of uid started (and last used) at at.
func sessionAt(uid user.ID, at time.Time) user.Session {
	sess := newSession(uid, at)
	sess.LastUsedAt = at
	return sess
}

func startLimited(t *testing.T, s Set, sess user.Session, limit int) []user.SessionID {
	t.Helper()
	evicted, err := s.Sessions.Start(t.Context(), sess, limit)
	if err != nil {
		t.Fatalf("Start(limit %d): %v", limit, err)
	}
	return evicted
}

func testStartEvicts(t *testing.T, s Set) {
	ctx := t.Context()
	u, bob := newUser(t, "ursula", ""), newUser(t, "bob", "")
	add(t, s, u)
	add(t, s, bob)
	expired := sessionAt(u.ID(), t0.Add(-2*time.Hour))
	expired.Current.ExpiresAt = t0.Add(-time.Hour)
	bobs := sessionAt(bob.ID(), t0)
	start(t, s, expired)
	start(t, s, bobs)
	s1, s2, s3 := sessionAt(u.ID(), t0), sessionAt(u.ID(), t0.Add(time.Minute)), sessionAt(u.ID(), t0.Add(2*time.Minute))
	for _, sess := range []user.Session{s1, s2, s3} {
		if evicted := startLimited(t, s, sess, 3); len(evicted) != 0 {
			t.Fatalf("Start within the limit revoked %v", evicted)
		}
	}
	// s1 is used again, so s2 is now the least recently used.
	if _, rotated, err := s.Sessions.Rotate(ctx, s1.ID, s1.Current.ID, newToken(t0.Add(3*time.Minute)), t0.Add(3*time.Minute), user.Client{}); err != nil || !rotated {
		t.Fatalf("Rotate: %v, %v", rotated, err)
	}
	s4 := sessionAt(u.ID(), t0.Add(4*time.Minute))
	if evicted := startLimited(t, s, s4, 3); !sameIDs(evicted, []user.SessionID{s2.ID}) {
		t.Fatalf("the fourth Start with limit 3 revoked %v, want only the least recently used %v", evicted, s2.ID)
	}
	if got := current(t, s, s2.ID); !sameTime(got.RevokedAt, s4.CreatedAt) {
		t.Errorf("evicted session's RevokedAt = %v, want the new session's start %v", got.RevokedAt, s4.CreatedAt)
	}
	if !isEnded(t, s, u.ID(), s2.ID) {
		t.Error("the evicted session is not ended")
	}
	for _, sess := range []user.Session{s1, s3, s4} {
		if isEnded(t, s, u.ID(), sess.ID) {
			t.Errorf("session %s ended; only the least recently used should have", sess.ID)
		}
	}
	if got := current(t, s, expired.ID); !got.RevokedAt.IsZero() {
		t.Error("an expired session counted against the limit and was revoked")
	}

	// A lower limit revokes as many as it takes, least recently used first.
	s5 := sessionAt(u.ID(), t0.Add(5*time.Minute))
	if evicted := startLimited(t, s, s5, 2); !sameIDs(evicted, []user.SessionID{s3.ID, s1.ID}) {
		t.Fatalf("Start with limit 2 revoked %v, want %v and %v", evicted, s3.ID, s1.ID)
	}
	// No limit revokes nothing.
	if evicted := startLimited(t, s, sessionAt(u.ID(), t0.Add(6*time.Minute)), 0); len(evicted) != 0 {
		t.Errorf("Start without a limit revoked %v", evicted)
	}
	if isEnded(t, s, bob.ID(), bobs.ID) {
		t.Error("another user's session was revoked by the limit")
	}
	// A failed Start revokes nothing: the evictions roll back with it.
	s6 := sessionAt(u.ID(), t0.Add(7*time.Minute))
	s6.ID = s4.ID // already exists
	if _, err := s.Sessions.Start(ctx, s6, 1); err == nil {
		t.Fatal("Start of an existing session id succeeded")
	}
	if isEnded(t, s, u.ID(), s4.ID) || isEnded(t, s, u.ID(), s5.ID) {
		t.Error("a failed Start left its evictions behind")
	}
}

func testConcurrentStartsKeepTheLimit(t *testing.T, s Set) {
	const n, limit = 12, 3
	u := newUser(t, "crowd", "")
	add(t, s, u)
	evicted := make([][]user.SessionID, n)
	errs := make([]error, n)
	sessions := make([]user.Session, n)
	for i := range sessions {
		sessions[i] = sessionAt(u.ID(), t0.Add(time.Duration(i)*time.Millisecond))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { evicted[i], errs[i] = s.Sessions.Start(t.Context(), sessions[i], limit) })
	}
	wg.Wait()
	seen := map[user.SessionID]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start #%d: %v", i, err)
		}
		for _, id := range evicted[i] {
			if seen[id] {
				t.Errorf("session %s revoked by two Starts", id)
			}
			seen[id] = true
		}
	}
	live, err := s.Sessions.List(t.Context(), u.ID(), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != limit || len(seen) != n-limit {
		t.Fatalf("after %d concurrent Starts with limit %d: %d live, %d revoked; want %d and %d", n, limit, len(live), len(seen), limit, n-limit)
	}
	for _, sess := range live {
		if seen[sess.ID] {
			t.Errorf("session %s is live and was reported revoked", sess.ID)
		}
	}
}

func testRotateRecordsClient(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "roamer", "")
	add(t, s, u)
	sess := sessionAt(u.ID(), t0)
	sess.Client = client(t, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")
	start(t, s, sess)
	assertSession(t, current(t, s, sess.ID), sess)

	at := t0.Add(time.Hour)
	next := newToken(at)
	moved := client(t, "2001:db8::7", "curl/8.5.0")
	got, rotated, err := s.Sessions.Rotate(ctx, sess.ID, sess.Current.ID, next, at, moved)
	if err != nil || !rotated {
		t.Fatalf("Rotate: %v, %v", rotated, err)
	}
	want := sess
	want.Previous, want.Current, want.RotatedAt, want.LastUsedAt, want.Client = sess.Current.ID, next, at, at, moved
	assertSession(t, got, want)
	assertSession(t, current(t, s, sess.ID), want)

	// A rotation that does not happen records nothing.
	_, rotated, err = s.Sessions.Rotate(ctx, sess.ID, sess.Current.ID, newToken(at.Add(time.Hour)), at.Add(time.Hour), client(t, "198.51.100.1", "thief"))
	if err != nil || rotated {
		t.Fatalf("Rotate of a retired token: %v, %v", rotated, err)
	}
	assertSession(t, current(t, s, sess.ID), want)

	// An unknown client is stored as none.
	later := at.Add(2 * time.Hour)
	got, rotated, err = s.Sessions.Rotate(ctx, sess.ID, next.ID, newToken(later), later, user.Client{})
	if err != nil || !rotated || got.Client != (user.Client{}) || !sameTime(got.LastUsedAt, later) {
		t.Fatalf("Rotate with no client = %+v, %v, %v; want no client and last use %v", got.Client, rotated, err, later)
	}
}

func testClientRoundTrip(t *testing.T, s Set) {
	u := newUser(t, "device", "")
	add(t, s, u)
	for i, c := range []user.Client{
		client(t, "192.0.2.1", strings.Repeat("é", user.MaxUserAgentChars)),
		client(t, "2001:db8::1", "a"),
		{UserAgent: user.NewUserAgent("no address known")},
		{IP: netip.MustParseAddr("198.51.100.9")},
		{},
	} {
		sess := sessionAt(u.ID(), t0.Add(time.Duration(i)*time.Second))
		sess.Client = c
		if i == 0 {
			name, err := user.ParseSessionName("Büro-Laptop 💻")
			if err != nil {
				t.Fatal(err)
			}
			sess.Name = name
		}
		start(t, s, sess)
		assertSession(t, current(t, s, sess.ID), sess)
	}
}

func testList(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	s1, s2 := sessionAt(alice.ID(), t0), sessionAt(alice.ID(), t0.Add(time.Minute))
	s2.Client = client(t, "203.0.113.8", "Phone")
	revoked := sessionAt(alice.ID(), t0.Add(2*time.Minute))
	idle := sessionAt(alice.ID(), t0.Add(3*time.Minute))
	idle.Current.ExpiresAt = t0.Add(5 * time.Minute)
	ended := sessionAt(alice.ID(), t0.Add(4*time.Minute))
	ended.ExpiresAt = t0.Add(6 * time.Minute)
	for _, sess := range []user.Session{s1, s2, revoked, idle, ended, sessionAt(bob.ID(), t0.Add(5*time.Minute))} {
		start(t, s, sess)
	}
	if err := s.Sessions.Revoke(ctx, alice.ID(), revoked.ID, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sessions.List(ctx, alice.ID(), t0.Add(10*time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("List returned %d sessions, want the 2 live ones of the user", len(got))
	}
	assertSession(t, got[0], s2) // newest first
	assertSession(t, got[1], s1)
	if got, err := s.Sessions.List(ctx, newID(), t0); err != nil || len(got) != 0 {
		t.Errorf("List of an unknown user = %v, %v; want none", got, err)
	}
}

func testRename(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	mine, bobs, revoked, expired := sessionAt(alice.ID(), t0), sessionAt(bob.ID(), t0), sessionAt(alice.ID(), t0), sessionAt(alice.ID(), t0)
	expired.Current.ExpiresAt = t0.Add(time.Minute)
	for _, sess := range []user.Session{mine, bobs, revoked, expired} {
		start(t, s, sess)
	}
	if err := s.Sessions.Revoke(ctx, alice.ID(), revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	name, _ := user.ParseSessionName("Work laptop")
	now := t0.Add(2 * time.Minute)
	got, err := s.Sessions.Rename(ctx, alice.ID(), mine.ID, name, now)
	if err != nil {
		t.Fatalf("Rename: %v", err)
	}
	want := mine
	want.Name = name
	assertSession(t, got, want)
	assertSession(t, current(t, s, mine.ID), want)
	for what, sid := range map[string]user.SessionID{
		"another user's": bobs.ID, "a revoked": revoked.ID, "an expired": expired.ID, "an unknown": user.SessionID(uuid.New()),
	} {
		_, err := s.Sessions.Rename(ctx, alice.ID(), sid, name, now)
		wantErr(t, "Rename of "+what+" session", err, user.ErrSessionNotFound)
	}
	if got := current(t, s, bobs.ID); !got.Name.IsZero() {
		t.Error("another user's session was renamed")
	}
}

func testRevokeOwner(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	sess := sessionAt(alice.ID(), t0)
	start(t, s, sess)
	wantErr(t, "Revoke of another user's session", s.Sessions.Revoke(ctx, bob.ID(), sess.ID, t0.Add(time.Minute)), user.ErrSessionInvalid)
	if isEnded(t, s, alice.ID(), sess.ID) {
		t.Fatal("a Revoke naming another user ended the session")
	}
	if err := s.Sessions.Revoke(ctx, alice.ID(), sess.ID, t0.Add(time.Minute)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
}

func testRevokeOthersLiveOnly(t *testing.T, s Set) {
	u := newUser(t, "alice", "")
	add(t, s, u)
	keep, other, expired := sessionAt(u.ID(), t0), sessionAt(u.ID(), t0), sessionAt(u.ID(), t0)
	expired.Current.ExpiresAt = t0.Add(time.Minute)
	for _, sess := range []user.Session{keep, other, expired} {
		start(t, s, sess)
	}
	ids, err := s.Sessions.RevokeOthers(t.Context(), u.ID(), keep.ID, t0.Add(time.Hour))
	if err != nil || !sameIDs(ids, []user.SessionID{other.ID}) {
		t.Fatalf("RevokeOthers = %v, %v; want only the live other session %s", ids, err, other.ID)
	}
	if got := current(t, s, expired.ID); !got.RevokedAt.IsZero() {
		t.Error("RevokeOthers revoked an expired session")
	}
}

func testDeleteScrubs(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "private", "")
	add(t, s, u)
	sess := sessionAt(u.ID(), t0)
	sess.Client = client(t, "203.0.113.9", "Personal Browser")
	sess.Name, _ = user.ParseSessionName("Home")
	start(t, s, sess)
	if _, err := s.Sessions.RevokeAll(ctx, u.ID(), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Users.Delete(ctx, u.ID()); err != nil {
		t.Fatal(err)
	}
	got := current(t, s, sess.ID)
	if got.UserID != (user.ID{}) || got.Client != (user.Client{}) || !got.Name.IsZero() || got.RevokedAt.IsZero() {
		t.Errorf("tombstone %+v: want a revoked session with no user, no client and no name", got)
	}
}

func testRemoveEnded(t *testing.T, s Set) {
	ctx := t.Context()
	alice, gone := newUser(t, "alice", ""), newUser(t, "gone", "")
	add(t, s, alice)
	add(t, s, gone)
	cutoff := t0.Add(10 * time.Hour)
	revokedLongAgo, revokedRecently := sessionAt(alice.ID(), t0), sessionAt(alice.ID(), t0)
	pastItsEnd := sessionAt(alice.ID(), t0)
	pastItsEnd.ExpiresAt = t0.Add(2 * time.Hour)
	idle := sessionAt(alice.ID(), t0)
	idle.Current.ExpiresAt = t0.Add(3 * time.Hour)
	endsJustAfter := sessionAt(alice.ID(), t0)
	endsJustAfter.Current.ExpiresAt = cutoff.Add(time.Millisecond)
	live := sessionAt(alice.ID(), t0)
	tombstone := sessionAt(gone.ID(), t0)
	for _, sess := range []user.Session{revokedLongAgo, revokedRecently, pastItsEnd, idle, endsJustAfter, live, tombstone} {
		start(t, s, sess)
	}
	for sid, at := range map[user.SessionID]time.Time{revokedLongAgo.ID: t0.Add(time.Hour), revokedRecently.ID: cutoff.Add(time.Hour)} {
		if err := s.Sessions.Revoke(ctx, alice.ID(), sid, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Sessions.RevokeAll(ctx, gone.ID(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Users.Delete(ctx, gone.ID()); err != nil {
		t.Fatal(err)
	}

	var counts []int
	for {
		n, err := s.Sessions.RemoveEnded(ctx, cutoff, 3)
		if err != nil {
			t.Fatalf("RemoveEnded: %v", err)
		}
		counts = append(counts, n)
		if n < 3 {
			break
		}
	}
	if !slices.Equal(counts, []int{3, 1}) {
		t.Errorf("batches of 3 removed %v, want [3 1]", counts)
	}
	for name, sess := range map[string]user.Session{"revoked long ago": revokedLongAgo, "past its end": pastItsEnd, "idle": idle, "tombstone": tombstone} {
		_, _, err := s.Sessions.Rotate(ctx, sess.ID, sess.Current.ID, newToken(cutoff), cutoff, user.Client{})
		if !errors.Is(err, user.ErrSessionInvalid) {
			t.Errorf("the %s session is still stored (Rotate: %v)", name, err)
		}
		if !isEnded(t, s, sess.UserID, sess.ID) {
			t.Errorf("the removed %s session is not ended", name)
		}
	}
	for name, sess := range map[string]user.Session{"revoked recently": revokedRecently, "ending after the cutoff": endsJustAfter, "live": live} {
		current(t, s, sess.ID) // fails the test if it is gone
		_ = name
	}
	if isEnded(t, s, alice.ID(), live.ID) {
		t.Error("the clean-up ended a live session")
	}
}

func testConcurrentRemoveEnded(t *testing.T, s Set) {
	const ended, workers, batch = 60, 4, 7
	u := newUser(t, "many", "")
	add(t, s, u)
	for range ended {
		sess := sessionAt(u.ID(), t0)
		sess.ExpiresAt = t0.Add(time.Minute)
		start(t, s, sess)
	}
	live := sessionAt(u.ID(), t0)
	start(t, s, live)
	removed := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for {
				n, err := s.Sessions.RemoveEnded(t.Context(), t0.Add(time.Hour), batch)
				if err != nil {
					errs[i] = err
					return
				}
				removed[i] += n
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		total += removed[i]
	}
	if total != ended {
		t.Errorf("%d concurrent workers removed %d sessions in all (%v), want each of the %d ended ones exactly once", workers, total, removed, ended)
	}
	if n, err := s.Sessions.RemoveEnded(t.Context(), t0.Add(time.Hour), batch); err != nil || n != 0 {
		t.Errorf("RemoveEnded afterwards = %d, %v; want nothing left", n, err)
	}
	current(t, s, live.ID)
}
