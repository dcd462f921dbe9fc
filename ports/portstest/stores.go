package portstest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// Set is one implementation of the user context's store ports, the
// platform's Transactor and Revocations, all sharing one backing store (one
// database, one memory DB).
type Set struct {
	Users       userports.Users
	Sessions    userports.Sessions
	Tx          ports.Transactor
	Revocations ports.Revocations
}

// Stores runs the contract of userports.Users, userports.Sessions,
// ports.Transactor and ports.Revocations against the implementation that
// fresh builds. fresh is
// called once per subtest and must return stores over a new, empty, migrated
// backing store, cleaned up with t.Cleanup; subtests run in parallel.
//
// The contract beyond the ports' doc comments, which every adapter keeps
// alike: Update and Delete of an unknown user fail with user.ErrNotFound;
// Sessions.Start for an unknown user fails with user.ErrNotFound; a deleted
// user's sessions stay ended (tombstones); times come back in UTC, equal to
// what was stored at least to the microsecond.
func Stores(t *testing.T, fresh func(t *testing.T) Set) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s Set)
	}{
		{"AddThenFindByUsernameIgnoringCase", testAddThenFind},
		{"AddWithoutFullName", testAddWithoutFullName},
		{"StoredUsersAreCopies", testCopies},
		{"AddTakenUsernameIgnoringCase", testAddTaken},
		{"UnknownUserIsNotFound", testNotFound},
		{"UpdateStoresEveryChange", testUpdateStores},
		{"UpdateToTakenUsernameFails", testUpdateTaken},
		{"UpdateMayChangeOwnUsernameCase", testUpdateOwnCase},
		{"FailedChangeStoresNothing", testFailedChange},
		{"ConcurrentUpdatesSerialise", testConcurrentUpdates},
		{"ConcurrentAddsOfOneUsernameOneWins", testConcurrentAdds},
		{"ByID", testByID},
		{"EndedSessionsAreRevokedForeignOrGone", testEnded},
		{"StartForUnknownUserFails", testStartUnknownUser},
		{"RotateMakesNextCurrent", testRotate},
		{"RotateWithStaleTokenChangesNothing", testRotateStale},
		{"RotateDeadSessionChangesNothing", testRotateDead},
		{"ConcurrentRotationsOneWins", testConcurrentRotations},
		{"RevokeKeepsFirstTimeAndIgnoresUnknown", testRevoke},
		{"RevokeOthersKeepsOne", testRevokeOthers},
		{"RevokeAllEndsEverySession", testRevokeAll},
		{"DeleteLeavesEndedSessions", testDeleteLeavesEndedSessions},
		{"TransactorCommitsTogether", testTxCommits},
		{"TransactorRollsBackOnError", testTxRollsBack},
		{"TransactorRollsBackUpdate", testTxRollsBackUpdate},
		{"ConcurrentReadThenWriteTransactions", testConcurrentTx},
		{"TimestampsRoundTripInUTC", testTimestamps},
		{"StartRevokesTheLeastRecentlyUsedBeyondTheLimit", testStartEvicts},
		{"ConcurrentStartsNeverExceedTheLimit", testConcurrentStartsKeepTheLimit},
		{"RotateRecordsLastUseAndClient", testRotateRecordsClient},
		{"ClientAndNameRoundTrip", testClientRoundTrip},
		{"ListReturnsLiveSessionsNewestFirst", testList},
		{"RenameOnlyTheUsersLiveSession", testRename},
		{"RevokeOnlyTheUsersSession", testRevokeOwner},
		{"RevokeOthersEndsOnlyLiveSessions", testRevokeOthersLiveOnly},
		{"DeleteLeavesNothingPersonal", testDeleteScrubs},
		{"RemoveEndedDeletesOnlyLongEndedSessions", testRemoveEnded},
		{"ConcurrentRemoveEndedDeleteEachOnce", testConcurrentRemoveEnded},
		{"DisabledStateRoundTrips", testDisabledStateRoundTrips},
		{"StartForDisabledUserFails", testStartForDisabledUserFails},
		{"ListUsersPagesByKeyWithFilters", testListUsersPagesByKeyWithFilters},
		{"LastStartsAreTheNewestKeptSessionStarts", testLastStartsAreTheNewestKeptSessionStarts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, fresh(t))
		})
	}
}

// t0 is the suite's "now": a fixed instant, so every assertion is exact.
var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

var errBoom = errors.New("portstest: change failed on purpose")

const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

func newID() user.ID { return user.ID(uuid.Must(uuid.NewV7())) }

func newUser(t *testing.T, name, full string) *user.User {
	t.Helper()
	n, err := user.ParseUsername(name)
	if err != nil {
		t.Fatalf("ParseUsername(%q): %v", name, err)
	}
	return user.New(newID(), n, user.NewPasswordHash(testHash), fullName(t, full), t0)
}

func fullName(t *testing.T, s string) user.FullName {
	t.Helper()
	if s == "" {
		return user.FullName{}
	}
	f, err := user.ParseFullName(s)
	if err != nil {
		t.Fatalf("ParseFullName(%q): %v", s, err)
	}
	return f
}

func username(t *testing.T, s string) user.Username {
	t.Helper()
	n, err := user.ParseUsername(s)
	if err != nil {
		t.Fatalf("ParseUsername(%q): %v", s, err)
	}
	return n
}

func newToken(issued time.Time) user.RefreshToken {
	return user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: issued, ExpiresAt: issued.Add(7 * 24 * time.Hour)}
}

func newSession(uid user.ID, now time.Time) user.Session {
	return user.Session{
		ID:         user.SessionID(uuid.New()),
		UserID:     uid,
		CreatedAt:  now,
		ExpiresAt:  now.Add(30 * 24 * time.Hour),
		Current:    newToken(now),
		LastUsedAt: now,
	}
}

func add(t *testing.T, s Set, u *user.User) {
	t.Helper()
	if err := s.Users.Add(t.Context(), u); err != nil {
		t.Fatalf("Add(%s): %v", u.Username(), err)
	}
}

func start(t *testing.T, s Set, sess user.Session) {
	t.Helper()
	if _, err := s.Sessions.Start(t.Context(), sess, 0); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func find(t *testing.T, s Set, name string) *user.User {
	t.Helper()
	u, err := s.Users.ByUsername(t.Context(), username(t, name))
	if err != nil {
		t.Fatalf("ByUsername(%q): %v", name, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// sameTime reports whether got is in UTC and equals want to the microsecond.
func sameTime(got, want time.Time) bool {
	if got.IsZero() || want.IsZero() {
		return got.IsZero() && want.IsZero()
	}
	return got.Location() == time.UTC && got.Truncate(time.Microsecond).Equal(want.Truncate(time.Microsecond))
}

func assertUser(t *testing.T, got, want *user.User) {
	t.Helper()
	if got.ID() != want.ID() {
		t.Errorf("ID = %s, want %s", got.ID(), want.ID())
	}
	if got.Username().String() != want.Username().String() {
		t.Errorf("Username = %q, want %q", got.Username(), want.Username())
	}
	if got.PasswordHash().Reveal() != want.PasswordHash().Reveal() {
		t.Errorf("PasswordHash differs from the one stored")
	}
	if got.FullName().String() != want.FullName().String() {
		t.Errorf("FullName = %q, want %q", got.FullName(), want.FullName())
	}
	if !sameTime(got.CreatedAt(), want.CreatedAt()) {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt(), want.CreatedAt())
	}
	if !sameTime(got.UpdatedAt(), want.UpdatedAt()) {
		t.Errorf("UpdatedAt = %v, want %v in UTC", got.UpdatedAt(), want.UpdatedAt())
	}
}

func assertSession(t *testing.T, got, want user.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID {
		t.Errorf("session ids = %s/%s, want %s/%s", got.ID, got.UserID, want.ID, want.UserID)
	}
	if got.Current.ID != want.Current.ID {
		t.Errorf("Current.ID = %s, want %s", got.Current.ID, want.Current.ID)
	}
	if got.Previous != want.Previous {
		t.Errorf("Previous = %s, want %s", got.Previous, want.Previous)
	}
	if got.Client != want.Client {
		t.Errorf("Client = %+v, want %+v", got.Client, want.Client)
	}
	if got.Name != want.Name {
		t.Errorf("Name = %q, want %q", got.Name, want.Name)
	}
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"Current.IssuedAt", got.Current.IssuedAt, want.Current.IssuedAt},
		{"Current.ExpiresAt", got.Current.ExpiresAt, want.Current.ExpiresAt},
		{"RotatedAt", got.RotatedAt, want.RotatedAt},
		{"RevokedAt", got.RevokedAt, want.RevokedAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
	} {
		if !sameTime(c.got, c.want) {
			t.Errorf("%s = %v, want %v in UTC", c.name, c.got, c.want)
		}
	}
}

// current reads session sess back through a Rotate that cannot match.
func current(t *testing.T, s Set, sid user.SessionID) user.Session {
	t.Helper()
	got, rotated, err := s.Sessions.Rotate(t.Context(), sid, user.TokenID(uuid.New()), newToken(t0), t0, user.Client{})
	if err != nil {
		t.Fatalf("Rotate (read back): %v", err)
	}
	if rotated {
		t.Fatalf("Rotate with an unknown token rotated the session")
	}
	return got
}

func testAddThenFind(t *testing.T, s Set) {
	u := newUser(t, "Alice42", "Alice Smith-Jones")
	add(t, s, u)
	for _, name := range []string{"Alice42", "alice42", "ALICE42"} {
		assertUser(t, find(t, s, name), u)
	}
}

func testAddWithoutFullName(t *testing.T, s Set) {
	u := newUser(t, "bob", "")
	add(t, s, u)
	got := find(t, s, "bob")
	if !got.FullName().IsZero() {
		t.Errorf("FullName = %q, want none", got.FullName())
	}
	assertUser(t, got, u)
}

func testCopies(t *testing.T, s Set) {
	u := newUser(t, "rita", "Rita")
	add(t, s, u)
	stored := user.Restore(u.ID(), u.Username(), u.PasswordHash(), u.FullName(), u.CreatedAt(), u.UpdatedAt(), u.Disablement())
	// Changing the value given to Add, or one a lookup returned, changes
	// nothing stored; only Update does.
	u.Rename(username(t, "Changed"), t0.Add(time.Hour))
	got := find(t, s, "rita")
	got.SetFullName(fullName(t, "Changed"), t0.Add(time.Hour))
	assertUser(t, find(t, s, "rita"), stored)
}

func testAddTaken(t *testing.T, s Set) {
	first := newUser(t, "Alice", "")
	add(t, s, first)
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		err := s.Users.Add(t.Context(), newUser(t, name, "Other Person"))
		wantErr(t, "Add("+name+")", err, user.ErrUsernameTaken)
	}
	assertUser(t, find(t, s, "alice"), first)
}

func testNotFound(t *testing.T, s Set) {
	ctx := t.Context()
	add(t, s, newUser(t, "someone", ""))
	_, err := s.Users.ByUsername(ctx, username(t, "nobody"))
	wantErr(t, "ByUsername(unknown)", err, user.ErrNotFound)
	called := false
	err = s.Users.Update(ctx, newID(), func(*user.User) error { called = true; return nil })
	wantErr(t, "Update(unknown)", err, user.ErrNotFound)
	if called {
		t.Error("Update called change for an unknown user")
	}
	wantErr(t, "Delete(unknown)", s.Users.Delete(ctx, newID()), user.ErrNotFound)
}

func testUpdateStores(t *testing.T, s Set) {
	u := newUser(t, "bob", "")
	add(t, s, u)
	later := t0.Add(time.Hour)
	err := s.Users.Update(t.Context(), u.ID(), func(u *user.User) error {
		u.Rename(username(t, "Robert"), later)
		u.SetFullName(fullName(t, "Robert O'Brien"), later)
		u.SetPasswordHash(user.NewPasswordHash(testHash+"x"), later)
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := user.Restore(u.ID(), username(t, "Robert"), user.NewPasswordHash(testHash+"x"), fullName(t, "Robert O'Brien"), t0, later, user.Disablement{})
	assertUser(t, find(t, s, "robert"), want)
	_, err = s.Users.ByUsername(t.Context(), username(t, "bob"))
	wantErr(t, "ByUsername(old name)", err, user.ErrNotFound)

	// Clearing the full name stores NULL / none.
	err = s.Users.Update(t.Context(), u.ID(), func(u *user.User) error {
		u.SetFullName(user.FullName{}, later)
		return nil
	})
	if err != nil {
		t.Fatalf("Update (clear full name): %v", err)
	}
	if got := find(t, s, "robert"); !got.FullName().IsZero() {
		t.Errorf("FullName after clearing = %q, want none", got.FullName())
	}
	// The old username is free again.
	add(t, s, newUser(t, "BOB", ""))
}

func testUpdateTaken(t *testing.T, s Set) {
	alice, bob := newUser(t, "alice", "Alice"), newUser(t, "bob", "Bob")
	add(t, s, alice)
	add(t, s, bob)
	err := s.Users.Update(t.Context(), bob.ID(), func(u *user.User) error {
		u.Rename(username(t, "ALICE"), t0.Add(time.Hour))
		u.SetFullName(fullName(t, "Mallory"), t0.Add(time.Hour))
		return nil
	})
	wantErr(t, "Update(rename to taken)", err, user.ErrUsernameTaken)
	assertUser(t, find(t, s, "bob"), bob)
	assertUser(t, find(t, s, "alice"), alice)
}

func testUpdateOwnCase(t *testing.T, s Set) {
	u := newUser(t, "bob", "")
	add(t, s, u)
	err := s.Users.Update(t.Context(), u.ID(), func(u *user.User) error {
		u.Rename(username(t, "BoB"), t0.Add(time.Minute))
		return nil
	})
	if err != nil {
		t.Fatalf("Update(own name, other case): %v", err)
	}
	if got := find(t, s, "bob").Username().String(); got != "BoB" {
		t.Errorf("Username = %q, want %q", got, "BoB")
	}
}

func testFailedChange(t *testing.T, s Set) {
	u := newUser(t, "carol", "Carol")
	add(t, s, u)
	err := s.Users.Update(t.Context(), u.ID(), func(u *user.User) error {
		u.Rename(username(t, "Caroline"), t0.Add(time.Hour))
		u.SetFullName(fullName(t, "Caroline Changed"), t0.Add(time.Hour))
		return errBoom
	})
	wantErr(t, "Update(failing change)", err, errBoom)
	assertUser(t, find(t, s, "carol"), u)
	_, err = s.Users.ByUsername(t.Context(), username(t, "caroline"))
	wantErr(t, "ByUsername(name of the failed change)", err, user.ErrNotFound)
}

func testConcurrentUpdates(t *testing.T, s Set) {
	const n = 20
	u := newUser(t, "counter", "A")
	add(t, s, u)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Users.Update(t.Context(), u.ID(), func(u *user.User) error {
				f, err := user.ParseFullName(u.FullName().String() + "a")
				if err != nil {
					return err
				}
				u.SetFullName(f, t0.Add(time.Duration(i+1)*time.Second))
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update #%d: %v", i, err)
		}
	}
	want := "A" + strings.Repeat("a", n)
	if got := find(t, s, "counter").FullName().String(); got != want {
		t.Errorf("after %d concurrent appends FullName = %q (%d letters), want %d letters: updates were lost", n, got, len(got), len(want))
	}
}

func testConcurrentAdds(t *testing.T, s Set) {
	const n = 20
	variants := []string{"dave", "DAVE", "Dave", "dAVE"}
	errs := make([]error, n)
	users := make([]*user.User, n)
	for i := range n {
		users[i] = newUser(t, variants[i%len(variants)], "")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Users.Add(t.Context(), users[i]) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Add #%d and #%d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, user.ErrUsernameTaken):
			t.Errorf("Add #%d: %v, want nil or user.ErrUsernameTaken", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent Add succeeded")
	}
	assertUser(t, find(t, s, "dave"), users[winner])
}

func testByID(t *testing.T, s Set) {
	u := newUser(t, "erin", "Erin")
	add(t, s, u)
	got, err := s.Users.ByID(t.Context(), u.ID())
	if err != nil {
		t.Fatalf("ByID: %v", err)
	}
	assertUser(t, got, u)
	_, err = s.Users.ByID(t.Context(), newID())
	wantErr(t, "ByID(unknown)", err, user.ErrNotFound)
}

// isEnded asks the Revocations whether uid's session sid has ended.
func isEnded(t *testing.T, s Set, uid user.ID, sid user.SessionID) bool {
	t.Helper()
	ended, err := s.Revocations.Ended(t.Context(), ports.Principal{UserID: uuid.UUID(uid), SessionID: uuid.UUID(sid)})
	if err != nil {
		t.Fatalf("Ended: %v", err)
	}
	return ended
}

func testEnded(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob, gone := newUser(t, "alice", ""), newUser(t, "bob", ""), newUser(t, "gone", "")
	add(t, s, alice)
	add(t, s, bob)
	add(t, s, gone)

	live := newSession(alice.ID(), t0)
	start(t, s, live)
	revoked := newSession(alice.ID(), t0)
	start(t, s, revoked)
	if err := s.Sessions.Revoke(ctx, alice.ID(), revoked.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	bobs := newSession(bob.ID(), t0)
	start(t, s, bobs)
	gones := newSession(gone.ID(), t0)
	start(t, s, gones)
	if _, err := s.Sessions.RevokeAll(ctx, gone.ID(), t0.Add(time.Second)); err != nil {
		t.Fatalf("RevokeAll: %v", err)
	}
	if err := s.Users.Delete(ctx, gone.ID()); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	for _, c := range []struct {
		name string
		uid  user.ID
		sid  user.SessionID
		want bool
	}{
		{"live", alice.ID(), live.ID, false},
		{"bob's own", bob.ID(), bobs.ID, false},
		{"revoked", alice.ID(), revoked.ID, true},
		{"another user's session", alice.ID(), bobs.ID, true},
		{"unknown session", alice.ID(), user.SessionID(uuid.New()), true},
		{"deleted user", gone.ID(), gones.ID, true},
	} {
		if got := isEnded(t, s, c.uid, c.sid); got != c.want {
			t.Errorf("Ended(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func testStartUnknownUser(t *testing.T, s Set) {
	add(t, s, newUser(t, "someone", ""))
	_, err := s.Sessions.Start(t.Context(), newSession(newID(), t0), 0)
	wantErr(t, "Start(unknown user)", err, user.ErrNotFound)
}

func testRotate(t *testing.T, s Set) {
	u := newUser(t, "frank", "")
	add(t, s, u)
	sess := newSession(u.ID(), t0)
	start(t, s, sess)
	now := t0.Add(5 * time.Minute)
	next := newToken(now)
	got, rotated, err := s.Sessions.Rotate(t.Context(), sess.ID, sess.Current.ID, next, now, user.Client{})
	if err != nil || !rotated {
		t.Fatalf("Rotate = rotated %v, err %v; want rotated", rotated, err)
	}
	want := sess
	want.Previous, want.Current, want.RotatedAt, want.LastUsedAt = sess.Current.ID, next, now, now
	assertSession(t, got, want)
	assertSession(t, current(t, s, sess.ID), want)
}

func testRotateStale(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "grace", "")
	add(t, s, u)
	sess := newSession(u.ID(), t0)
	start(t, s, sess)
	a := sess.Current
	b, c := newToken(t0.Add(time.Minute)), newToken(t0.Add(2*time.Minute))
	if _, rotated, err := s.Sessions.Rotate(ctx, sess.ID, a.ID, b, t0.Add(time.Minute), user.Client{}); err != nil || !rotated {
		t.Fatalf("first Rotate = %v, %v; want rotated", rotated, err)
	}
	got, rotated, err := s.Sessions.Rotate(ctx, sess.ID, a.ID, c, t0.Add(2*time.Minute), user.Client{})
	if err != nil || rotated {
		t.Fatalf("Rotate from a retired token = %v, %v; want not rotated, no error", rotated, err)
	}
	want := sess
	want.Previous, want.Current, want.RotatedAt, want.LastUsedAt = a.ID, b, t0.Add(time.Minute), t0.Add(time.Minute)
	assertSession(t, got, want)
	// The session still judges the replay; the store only reports it.
	if r := got.JudgeReplay(a.ID, t0.Add(2*time.Minute), 10*time.Second); r != user.ReplayTheft {
		t.Errorf("JudgeReplay of the retired token after the grace period = %v, want ReplayTheft", r)
	}
	if _, rotated, err := s.Sessions.Rotate(ctx, sess.ID, b.ID, c, t0.Add(2*time.Minute), user.Client{}); err != nil || !rotated {
		t.Fatalf("Rotate from the current token = %v, %v; want rotated", rotated, err)
	}
}

func testRotateDead(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "heidi", "")
	add(t, s, u)

	revoked := newSession(u.ID(), t0)
	start(t, s, revoked)
	if err := s.Sessions.Revoke(ctx, u.ID(), revoked.ID, t0.Add(time.Minute)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	got, rotated, err := s.Sessions.Rotate(ctx, revoked.ID, revoked.Current.ID, newToken(t0.Add(2*time.Minute)), t0.Add(2*time.Minute), user.Client{})
	if err != nil || rotated {
		t.Fatalf("Rotate(revoked) = %v, %v; want not rotated, no error", rotated, err)
	}
	want := revoked
	want.RevokedAt = t0.Add(time.Minute)
	assertSession(t, got, want)

	expired := newSession(u.ID(), t0)
	start(t, s, expired)
	late := expired.Current.ExpiresAt.Add(time.Second)
	got, rotated, err = s.Sessions.Rotate(ctx, expired.ID, expired.Current.ID, newToken(late), late, user.Client{})
	if err != nil || rotated {
		t.Fatalf("Rotate(refresh expired) = %v, %v; want not rotated, no error", rotated, err)
	}
	assertSession(t, got, expired)

	ended := newSession(u.ID(), t0)
	ended.ExpiresAt = t0.Add(time.Hour)
	start(t, s, ended)
	_, rotated, err = s.Sessions.Rotate(ctx, ended.ID, ended.Current.ID, newToken(t0.Add(time.Hour)), t0.Add(time.Hour), user.Client{})
	if err != nil || rotated {
		t.Fatalf("Rotate(at its absolute end) = %v, %v; want not rotated, no error", rotated, err)
	}

	_, _, err = s.Sessions.Rotate(ctx, user.SessionID(uuid.New()), revoked.Current.ID, newToken(t0), t0, user.Client{})
	wantErr(t, "Rotate(unknown session)", err, user.ErrSessionInvalid)
}

func testConcurrentRotations(t *testing.T, s Set) {
	const n = 10
	u := newUser(t, "ivan", "")
	add(t, s, u)
	sess := newSession(u.ID(), t0)
	start(t, s, sess)
	now := t0.Add(time.Minute)
	type result struct {
		sess    user.Session
		rotated bool
		err     error
	}
	results := make([]result, n)
	nexts := make([]user.RefreshToken, n)
	for i := range nexts {
		nexts[i] = newToken(now)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, rotated, err := s.Sessions.Rotate(t.Context(), sess.ID, sess.Current.ID, nexts[i], now, user.Client{})
			results[i] = result{got, rotated, err}
		})
	}
	wg.Wait()
	winner := -1
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("Rotate #%d: %v", i, r.err)
		case r.rotated && winner >= 0:
			t.Fatalf("Rotate #%d and #%d both rotated the same token", winner, i)
		case r.rotated:
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent Rotate rotated")
	}
	for i, r := range results {
		if r.sess.Current.ID != nexts[winner].ID || r.sess.Previous != sess.Current.ID {
			t.Errorf("Rotate #%d returned current %s previous %s, want the winner's %s and %s",
				i, r.sess.Current.ID, r.sess.Previous, nexts[winner].ID, sess.Current.ID)
		}
	}
	if got := current(t, s, sess.ID); got.Current.ID != nexts[winner].ID {
		t.Errorf("stored current token = %s, want the winner's %s", got.Current.ID, nexts[winner].ID)
	}
}

func testRevoke(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "judy", "")
	add(t, s, u)
	sess := newSession(u.ID(), t0)
	start(t, s, sess)
	first := t0.Add(time.Minute)
	if err := s.Sessions.Revoke(ctx, u.ID(), sess.ID, first); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	err := s.Sessions.Revoke(ctx, u.ID(), sess.ID, first.Add(time.Hour))
	wantErr(t, "Revoke(revoked session)", err, user.ErrSessionInvalid)
	want := sess
	want.RevokedAt = first // the first revocation time is kept
	assertSession(t, current(t, s, sess.ID), want)
	err = s.Sessions.Revoke(ctx, u.ID(), user.SessionID(uuid.New()), first)
	wantErr(t, "Revoke(unknown session)", err, user.ErrSessionInvalid)

	expiring := newSession(u.ID(), t0)
	start(t, s, expiring)
	err = s.Sessions.Revoke(ctx, u.ID(), expiring.ID, expiring.ExpiresAt.Add(time.Second))
	wantErr(t, "Revoke(expired session)", err, user.ErrSessionInvalid)
}

func sameIDs(got, want []user.SessionID) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[user.SessionID]bool{}
	for _, id := range got {
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			return false
		}
	}
	return true
}

func testRevokeOthers(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	keep, other1, other2, bobs := newSession(alice.ID(), t0), newSession(alice.ID(), t0), newSession(alice.ID(), t0), newSession(bob.ID(), t0)
	for _, sess := range []user.Session{keep, other1, other2, bobs} {
		start(t, s, sess)
	}
	if err := s.Sessions.Revoke(ctx, alice.ID(), other2.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	ids, err := s.Sessions.RevokeOthers(ctx, alice.ID(), keep.ID, at)
	if err != nil {
		t.Fatalf("RevokeOthers: %v", err)
	}
	if !sameIDs(ids, []user.SessionID{other1.ID}) {
		t.Errorf("RevokeOthers ended %v, want only the live other session %v", ids, other1.ID)
	}
	if isEnded(t, s, alice.ID(), keep.ID) {
		t.Errorf("the kept session ended")
	}
	for _, sess := range []user.Session{other1, other2} {
		if !isEnded(t, s, alice.ID(), sess.ID) {
			t.Errorf("other session %s is live", sess.ID)
		}
	}
	if got := current(t, s, other1.ID); !sameTime(got.RevokedAt, at) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, at)
	}
	if got := current(t, s, other2.ID); !sameTime(got.RevokedAt, t0.Add(time.Second)) {
		t.Errorf("an earlier revocation time was overwritten: %v", got.RevokedAt)
	}
	if isEnded(t, s, bob.ID(), bobs.ID) {
		t.Errorf("another user's session was revoked")
	}
}

func testRevokeAll(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	s1, s2, bobs := newSession(alice.ID(), t0), newSession(alice.ID(), t0), newSession(bob.ID(), t0)
	for _, sess := range []user.Session{s1, s2, bobs} {
		start(t, s, sess)
	}
	ids, err := s.Sessions.RevokeAll(ctx, alice.ID(), t0.Add(time.Minute))
	if err != nil || !sameIDs(ids, []user.SessionID{s1.ID, s2.ID}) {
		t.Fatalf("RevokeAll = %v, %v; want both of alice's sessions", ids, err)
	}
	if again, err := s.Sessions.RevokeAll(ctx, alice.ID(), t0.Add(time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("second RevokeAll = %v, %v; want nothing left to end", again, err)
	}
	if !isEnded(t, s, alice.ID(), s1.ID) || !isEnded(t, s, alice.ID(), s2.ID) || isEnded(t, s, bob.ID(), bobs.ID) {
		t.Errorf("RevokeAll ended the wrong sessions")
	}
}

func testDeleteLeavesEndedSessions(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob := newUser(t, "alice", ""), newUser(t, "bob", "")
	add(t, s, alice)
	add(t, s, bob)
	s1, s2, bobs := newSession(alice.ID(), t0), newSession(alice.ID(), t0), newSession(bob.ID(), t0)
	for _, sess := range []user.Session{s1, s2, bobs} {
		start(t, s, sess)
	}
	if _, err := s.Sessions.RevokeAll(ctx, alice.ID(), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Users.Delete(ctx, alice.ID()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Users.ByUsername(ctx, username(t, "alice"))
	wantErr(t, "ByUsername(deleted)", err, user.ErrNotFound)
	for _, sess := range []user.Session{s1, s2} {
		got, rotated, err := s.Sessions.Rotate(ctx, sess.ID, sess.Current.ID, newToken(t0), t0.Add(time.Minute), user.Client{})
		if rotated || (err == nil && (got.RevokedAt.IsZero() || got.UserID != user.ID{})) || (err != nil && !errors.Is(err, user.ErrSessionInvalid)) {
			t.Errorf("Rotate(session of a deleted user) = %+v, %v, %v; want a revoked session with no user, not rotated", got, rotated, err)
		}
		if !isEnded(t, s, alice.ID(), sess.ID) {
			t.Errorf("a deleted user's session is live")
		}
	}
	if isEnded(t, s, bob.ID(), bobs.ID) {
		t.Errorf("another user's session went with the delete")
	}
	_, err = s.Sessions.Start(ctx, newSession(alice.ID(), t0), 0)
	wantErr(t, "Start(deleted user)", err, user.ErrNotFound)
	add(t, s, newUser(t, "Alice", "")) // the name is free again
}

func testTxCommits(t *testing.T, s Set) {
	u := newUser(t, "kim", "Kim")
	sess := newSession(u.ID(), t0)
	err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := s.Users.Add(ctx, u); err != nil {
			return err
		}
		got, err := s.Users.ByUsername(ctx, username(t, "KIM"))
		if err != nil {
			return err
		}
		assertUser(t, got, u)
		_, err = s.Sessions.Start(ctx, sess, 0)
		return err
	})
	if err != nil {
		t.Fatalf("Atomically: %v", err)
	}
	if isEnded(t, s, u.ID(), sess.ID) {
		t.Fatalf("the session committed with its user is not live")
	}
}

func testTxRollsBack(t *testing.T, s Set) {
	u := newUser(t, "leo", "")
	sess := newSession(u.ID(), t0)
	err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := s.Users.Add(ctx, u); err != nil {
			return err
		}
		if _, err := s.Sessions.Start(ctx, sess, 0); err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, "Atomically", err, errBoom)
	_, err = s.Users.ByUsername(t.Context(), username(t, "leo"))
	wantErr(t, "ByUsername after rollback", err, user.ErrNotFound)
	_, _, err = s.Sessions.Rotate(t.Context(), sess.ID, sess.Current.ID, newToken(t0), t0, user.Client{})
	wantErr(t, "Rotate after rollback", err, user.ErrSessionInvalid)

	// A username clash inside a transaction comes back as ErrUsernameTaken and
	// leaves nothing behind either.
	add(t, s, newUser(t, "mia", ""))
	other := newUser(t, "nina", "")
	err = s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := s.Users.Add(ctx, other); err != nil {
			return err
		}
		return s.Users.Add(ctx, newUser(t, "MIA", ""))
	})
	wantErr(t, "Atomically(clash)", err, user.ErrUsernameTaken)
	_, err = s.Users.ByUsername(t.Context(), username(t, "nina"))
	wantErr(t, "ByUsername after clash rollback", err, user.ErrNotFound)
}

func testTxRollsBackUpdate(t *testing.T, s Set) {
	u := newUser(t, "oscar", "Oscar")
	add(t, s, u)
	keep, other := newSession(u.ID(), t0), newSession(u.ID(), t0)
	start(t, s, keep)
	start(t, s, other)
	err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		err := s.Users.Update(ctx, u.ID(), func(u *user.User) error {
			u.SetPasswordHash(user.NewPasswordHash(testHash+"new"), t0.Add(time.Hour))
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := s.Sessions.RevokeOthers(ctx, u.ID(), keep.ID, t0.Add(time.Hour)); err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, "Atomically", err, errBoom)
	assertUser(t, find(t, s, "oscar"), u)
	if isEnded(t, s, u.ID(), other.ID) {
		t.Errorf("revocation survived the rollback")
	}
}

// testConcurrentTx runs transactions that read and then write at the same
// time. Each must succeed or report ErrUsernameTaken; none may fail because
// the database was busy (SQLite's "database is locked").
func testConcurrentTx(t *testing.T, s Set) {
	const n = 20
	errs := make([]error, n)
	users := make([]*user.User, n)
	for i := range users {
		users[i] = newUser(t, "Pat", "")
	}
	lookup := username(t, "pat")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
				_, err := s.Users.ByUsername(ctx, lookup)
				if err == nil {
					return nil
				}
				if !errors.Is(err, user.ErrNotFound) {
					return err
				}
				u := users[i]
				if err := s.Users.Add(ctx, u); err != nil {
					return err
				}
				_, err = s.Sessions.Start(ctx, newSession(u.ID(), t0), 0)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, user.ErrUsernameTaken) {
			t.Errorf("transaction #%d: %v", i, err)
		}
	}
	find(t, s, "pat")
}

func testTimestamps(t *testing.T, s Set) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, zone)
	n, err := user.ParseUsername("quinn")
	if err != nil {
		t.Fatal(err)
	}
	u := user.Restore(newID(), n, user.NewPasswordHash(testHash), user.FullName{}, at, at.Add(time.Second), user.Disablement{})
	add(t, s, u)
	got := find(t, s, "quinn")
	if !sameTime(got.CreatedAt(), at) || !sameTime(got.UpdatedAt(), at.Add(time.Second)) {
		t.Errorf("user times = %v, %v; want %v, %v in UTC to the microsecond",
			got.CreatedAt(), got.UpdatedAt(), at.UTC(), at.Add(time.Second).UTC())
	}

	sess := user.Session{
		ID:         user.SessionID(uuid.New()),
		UserID:     u.ID(),
		CreatedAt:  at,
		ExpiresAt:  at.Add(30 * 24 * time.Hour),
		Current:    user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)},
		LastUsedAt: at,
	}
	start(t, s, sess)
	assertSession(t, current(t, s, sess.ID), sess)

	rotatedAt := at.Add(time.Minute + 987654321)
	next := user.RefreshToken{ID: user.TokenID(uuid.New()), IssuedAt: rotatedAt, ExpiresAt: rotatedAt.Add(time.Hour)}
	gotSess, rotated, err := s.Sessions.Rotate(t.Context(), sess.ID, sess.Current.ID, next, rotatedAt, user.Client{})
	if err != nil || !rotated {
		t.Fatalf("Rotate = %v, %v", rotated, err)
	}
	want := sess
	want.Previous, want.Current, want.RotatedAt, want.LastUsedAt = sess.Current.ID, next, rotatedAt, rotatedAt
	assertSession(t, gotSess, want)
}
