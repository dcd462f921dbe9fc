package portstest

import (
	"slices"
	"testing"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// The contract of the operators' side of the stores: the disabled state,
// listing users and their last session starts. Stores runs these too.

func testDisabledStateRoundTrips(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "Mallory", "")
	add(t, s, u)
	reason, err := user.ParseDisableReason("chargeback fraud, ticket 42")
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour).Add(123456 * time.Nanosecond)
	if err := s.Users.Update(ctx, u.ID(), func(u *user.User) error { u.Disable(reason, at); return nil }); err != nil {
		t.Fatalf("Update(disable): %v", err)
	}
	got := find(t, s, "mallory")
	d := got.Disablement()
	if !got.Disabled() || !sameTime(d.At, at) || d.Reason.String() != reason.String() {
		t.Fatalf("stored disabled state %v %q, want disabled at %v with the reason", d.At, d.Reason, at)
	}
	if !sameTime(got.UpdatedAt(), at) {
		t.Errorf("UpdatedAt = %v, want the disabling time %v", got.UpdatedAt(), at)
	}
	// Disabled without a reason stores none; enabling clears both.
	if err := s.Users.Update(ctx, u.ID(), func(u *user.User) error { u.Enable(at); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := find(t, s, "Mallory"); got.Disabled() || !got.Disablement().Reason.IsZero() {
		t.Fatalf("enabled user reads disabled=%v reason %q", got.Disabled(), got.Disablement().Reason)
	}
	if err := s.Users.Update(ctx, u.ID(), func(u *user.User) error { u.Disable(user.DisableReason{}, at); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := find(t, s, "Mallory"); !got.Disabled() || !got.Disablement().Reason.IsZero() {
		t.Fatalf("disabled without a reason reads disabled=%v reason %q", got.Disabled(), got.Disablement().Reason)
	}
}

func testStartForDisabledUserFails(t *testing.T, s Set) {
	ctx := t.Context()
	u := newUser(t, "Locked", "")
	add(t, s, u)
	if err := s.Users.Update(ctx, u.ID(), func(u *user.User) error { u.Disable(user.DisableReason{}, t0); return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := s.Sessions.Start(ctx, newSession(u.ID(), t0), 0)
	wantErr(t, "Start(disabled user)", err, user.ErrAccountDisabled)
	if live, err := s.Sessions.List(ctx, u.ID(), t0); err != nil || len(live) != 0 {
		t.Fatalf("List after a refused Start = %v, %v; want none", live, err)
	}
	// Enabled again, it starts sessions as before.
	if err := s.Users.Update(ctx, u.ID(), func(u *user.User) error { u.Enable(t0); return nil }); err != nil {
		t.Fatal(err)
	}
	start(t, s, newSession(u.ID(), t0))
}

func testListUsersPagesByKeyWithFilters(t *testing.T, s Set) {
	ctx := t.Context()
	for _, name := range []string{"bob", "Alice", "alina", "Carol", "al"} {
		add(t, s, newUser(t, name, ""))
	}
	carol := find(t, s, "carol")
	if err := s.Users.Update(ctx, carol.ID(), func(u *user.User) error { u.Disable(user.DisableReason{}, t0); return nil }); err != nil {
		t.Fatal(err)
	}
	alina := find(t, s, "alina")
	if err := s.Users.Update(ctx, alina.ID(), func(u *user.User) error { u.Disable(user.DisableReason{}, t0); return nil }); err != nil {
		t.Fatal(err)
	}
	names := func(q userports.UserQuery) []string {
		t.Helper()
		us, err := s.Users.List(ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		var out []string
		for _, u := range us {
			out = append(out, u.Username().String())
		}
		return out
	}
	for _, tc := range []struct {
		q    userports.UserQuery
		want []string
	}{
		{userports.UserQuery{Limit: 10}, []string{"al", "Alice", "alina", "bob", "Carol"}},
		{userports.UserQuery{Limit: 2}, []string{"al", "Alice"}},
		{userports.UserQuery{Limit: 2, After: "alice"}, []string{"alina", "bob"}},
		{userports.UserQuery{Limit: 10, Prefix: "al"}, []string{"al", "Alice", "alina"}},
		{userports.UserQuery{Limit: 10, Prefix: "ali", After: "alice"}, []string{"alina"}},
		{userports.UserQuery{Limit: 10, State: userports.StateDisabled}, []string{"alina", "Carol"}},
		{userports.UserQuery{Limit: 10, State: userports.StateActive, Prefix: "al"}, []string{"al", "Alice"}},
		{userports.UserQuery{Limit: 10, Prefix: "zed"}, nil},
	} {
		if got := names(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func testLastStartsAreTheNewestKeptSessionStarts(t *testing.T, s Set) {
	ctx := t.Context()
	alice, bob, carol := newUser(t, "alice", ""), newUser(t, "bob", ""), newUser(t, "carol", "")
	for _, u := range []*user.User{alice, bob, carol} {
		add(t, s, u)
	}
	start(t, s, newSession(alice.ID(), t0))
	latest := newSession(alice.ID(), t0.Add(time.Hour))
	start(t, s, latest)
	start(t, s, newSession(bob.ID(), t0.Add(time.Minute)))
	// An ended session still counts: it was a login.
	if _, err := s.Sessions.RevokeAll(ctx, alice.ID(), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sessions.LastStarts(ctx, []user.ID{alice.ID(), carol.ID()})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !sameTime(got[alice.ID()], latest.CreatedAt) {
		t.Fatalf("LastStarts = %v; want only alice's, at %v (bob not asked, carol has none)", got, latest.CreatedAt)
	}
	if empty, err := s.Sessions.LastStarts(ctx, nil); err != nil || len(empty) != 0 {
		t.Errorf("LastStarts(nil) = %v, %v", empty, err)
	}
}
