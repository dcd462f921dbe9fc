package userapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

func device(t *testing.T, ip, agent string) user.Client {
	t.Helper()
	return user.Client{IP: netip.MustParseAddr(ip), UserAgent: user.NewUserAgent(agent)}
}

func signUpInput(t *testing.T, w *world, name string, from user.Client) userapp.SignUpInput {
	t.Helper()
	return userapp.SignUpInput{Username: mustName(t, name), Password: w.password(t, "Sup3r$ecret"), Client: from}
}

func logInInput(t *testing.T, w *world, name, pw string, from user.Client) userapp.LogInInput {
	t.Helper()
	return userapp.LogInInput{Username: mustName(t, name), Password: w.checked(pw), Client: from}
}

// with builds the use cases again on w's stores, with change applied to
// their dependencies.
func (w *world) with(t *testing.T, change func(*userapp.Deps)) *userapp.UseCases {
	t.Helper()
	d := w.deps
	change(&d)
	uc, err := userapp.NewUseCases(w.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

func (w *world) logInFrom(t *testing.T, name, pw string, from user.Client) userapp.Tokens {
	t.Helper()
	tok, err := w.LogIn.Do(w.ctx, logInInput(t, w, name, pw, from))
	if err != nil {
		t.Fatalf("log in %s: %v", name, err)
	}
	return tok
}

// sessionsOf lists the caller's sessions and fails on error.
func (w *world) sessionsOf(t *testing.T, p ports.Principal) []user.Session {
	t.Helper()
	list, err := w.ListSessions.Do(w.ctx, p)
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	return list
}

func TestSessionsRecordTheirClientAndLastUseOnRefreshOnly(t *testing.T) {
	w := newWorld(t)
	laptop := device(t, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)")
	started := w.clock.Now()
	tok, err := w.SignUp.Do(w.ctx, signUpInput(t, w, "Alice", laptop))
	if err != nil {
		t.Fatal(err)
	}
	me := w.caller(t, tok)
	list := w.sessionsOf(t, me)
	if len(list) != 1 {
		t.Fatalf("%d sessions after signup, want 1", len(list))
	}
	s := list[0]
	if s.Client != laptop || !s.LastUsedAt.Equal(started) || !s.CreatedAt.Equal(started) || !s.Name.IsZero() {
		t.Errorf("new session %+v: want the signup's client, last used and created at %v, no name", s, started)
	}
	if want := started.Add(settings.RefreshTTL); !s.LiveUntil().Equal(want) {
		t.Errorf("LiveUntil %v, want the refresh token's expiry %v", s.LiveUntil(), want)
	}

	// Reading does not count as use.
	w.clock.Advance(time.Minute)
	if _, err := w.Profile.Do(w.ctx, me); err != nil {
		t.Fatal(err)
	}
	if got := w.sessionsOf(t, me)[0]; !got.LastUsedAt.Equal(started) {
		t.Errorf("a profile read moved last use to %v", got.LastUsedAt)
	}

	phone := device(t, "2001:db8::42", "Phone/1.0")
	refreshed := w.clock.Now()
	next, err := w.Refresh.Do(w.ctx, tok.Refresh, phone)
	if err != nil {
		t.Fatal(err)
	}
	got := w.sessionsOf(t, me)[0]
	if got.Client != phone || !got.LastUsedAt.Equal(refreshed) || !got.CreatedAt.Equal(started) {
		t.Errorf("after a refresh: %+v; want the refresh's client and time, the same start", got)
	}
	// The grace replay of the retired token writes nothing.
	w.clock.Advance(time.Second)
	if _, err := w.Refresh.Do(w.ctx, tok.Refresh, device(t, "198.51.100.1", "Other")); err != nil {
		t.Fatal(err)
	}
	if got := w.sessionsOf(t, w.caller(t, next))[0]; got.Client != phone || !got.LastUsedAt.Equal(refreshed) {
		t.Errorf("a replay within grace changed the session: %+v", got)
	}
}

func TestListSessionsShowsOnlyTheCallersLiveSessionsNewestFirst(t *testing.T) {
	w := newWorld(t)
	first := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	w.clock.Advance(time.Second)
	second := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	w.clock.Advance(time.Second)
	loggedOut := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	if _, err := w.LogOut.Do(w.ctx, loggedOut.Refresh); err != nil {
		t.Fatal(err)
	}
	w.mustSignUp(t, "Bob", "Sup3r$ecret")
	list := w.sessionsOf(t, w.caller(t, first))
	if len(list) != 2 || list[0].ID != second.SessionID || list[1].ID != first.SessionID {
		t.Fatalf("sessions %v, want the two live ones of Alice, newest first", ids(list))
	}
	// An idle session is no longer listed.
	w.clock.Advance(settings.RefreshTTL - time.Minute)
	first, err := w.Refresh.Do(w.ctx, first.Refresh, user.Client{})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Minute)
	if list := w.sessionsOf(t, w.caller(t, first)); len(list) != 1 || list[0].ID != first.SessionID {
		t.Errorf("sessions %v after the other one went idle, want only %s", ids(list), first.SessionID)
	}
}

func ids(list []user.Session) []user.SessionID {
	out := make([]user.SessionID, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

func TestRenameSessionOnlyTheCallersLiveSession(t *testing.T) {
	w := newWorld(t)
	mine := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	theirs := w.mustSignUp(t, "Bob", "Sup3r$ecret")
	me := w.caller(t, mine)
	name, _ := user.ParseSessionName("Work laptop")
	got, err := w.RenameSession.Do(w.ctx, me, mine.SessionID, name)
	if err != nil || got.Name != name {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	if list := w.sessionsOf(t, me); list[0].Name != name {
		t.Errorf("the name was not stored: %+v", list[0])
	}
	if _, err := w.RenameSession.Do(w.ctx, me, theirs.SessionID, name); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("renaming another user's session: %v, want ErrSessionNotFound", err)
	}
	if _, err := w.RenameSession.Do(w.ctx, me, user.SessionID(uuid.New()), name); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("renaming an unknown session: %v, want ErrSessionNotFound", err)
	}
}

func TestRevokeSession(t *testing.T) {
	w := newWorld(t)
	mine := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	laptop := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	theirs := w.mustSignUp(t, "Bob", "Sup3r$ecret")
	me := w.caller(t, mine)

	if err := w.RevokeSession.Do(w.ctx, me, mine.SessionID); !errors.Is(err, user.ErrCurrentSession) {
		t.Fatalf("revoking the current session: %v, want ErrCurrentSession", err)
	}
	if err := w.RevokeSession.Do(w.ctx, me, theirs.SessionID); !errors.Is(err, user.ErrSessionNotFound) {
		t.Fatalf("revoking another user's session: %v, want ErrSessionNotFound", err)
	}
	w.caller(t, theirs) // untouched
	if err := w.RevokeSession.Do(w.ctx, me, laptop.SessionID); err != nil {
		t.Fatalf("revoking my other session: %v", err)
	}
	w.wantRefused(t, "the revoked session's access token", laptop)
	if _, err := w.Refresh.Do(w.ctx, laptop.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Errorf("the revoked session's refresh: %v", err)
	}
	if err := w.RevokeSession.Do(w.ctx, me, laptop.SessionID); !errors.Is(err, user.ErrSessionNotFound) {
		t.Errorf("revoking it again: %v, want ErrSessionNotFound", err)
	}
	w.caller(t, mine)
}

func TestRevokeOtherSessionsKeepsTheCurrentOne(t *testing.T) {
	w := newWorld(t)
	mine := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	others := []userapp.Tokens{w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{}), w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})}
	me := w.caller(t, mine)
	n, err := w.RevokeOtherSessions.Do(w.ctx, me)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOtherSessions = %d, %v; want 2", n, err)
	}
	for _, o := range others {
		w.wantRefused(t, "another session", o)
	}
	w.caller(t, mine)
	if n, err := w.RevokeOtherSessions.Do(w.ctx, me); err != nil || n != 0 {
		t.Errorf("a second RevokeOtherSessions = %d, %v; want 0", n, err)
	}
}

func TestStartingOneSessionTooManyEvictsTheLeastRecentlyUsed(t *testing.T) {
	w := newWorld(t) // SessionsPerUser: 3
	first := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	w.clock.Advance(time.Second)
	second := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	w.clock.Advance(time.Second)
	third := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	w.clock.Advance(time.Second)
	first, err := w.Refresh.Do(w.ctx, first.Refresh, user.Client{}) // now second is the least recently used
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Second)
	fourth := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	w.wantRefused(t, "the least recently used session", second)
	for _, live := range []userapp.Tokens{first, third, fourth} {
		w.caller(t, live)
	}
	if n := len(w.sessionsOf(t, w.caller(t, fourth))); n != settings.SessionsPerUser {
		t.Errorf("%d live sessions, want %d", n, settings.SessionsPerUser)
	}
	last := w.outbox.Events()
	evicted := last[len(last)-1]
	var data map[string]any
	if err := json.Unmarshal(evicted.Data, &data); err != nil {
		t.Fatal(err)
	}
	if evicted.Type != "session.revoked" || data["reason"] != "evicted" || data["id"] != second.SessionID.String() {
		t.Errorf("last event %s %s, want session.revoked of %s with reason evicted", evicted.Type, evicted.Data, second.SessionID)
	}
}

func TestCleanUpRemovesOnlySessionsThatEndedLongAgo(t *testing.T) {
	w := newWorld(t)
	a := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	loggedOut := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	if _, err := w.LogOut.Do(w.ctx, loggedOut.Refresh); err != nil {
		t.Fatal(err)
	}
	gone := w.mustSignUp(t, "Gone", "Sup3r$ecret")
	if err := w.DeleteAccount.Do(w.ctx, w.caller(t, gone)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.CleanUpSessions.Do(w.ctx); err != nil || n != 0 {
		t.Fatalf("clean-up right away removed %d (%v); want none: their tokens may still be live", n, err)
	}
	// Alice keeps refreshing; the ended sessions age past the retention.
	for range 3 {
		w.clock.Advance(settings.RefreshTTL / 2)
		var err error
		if a, err = w.Refresh.Do(w.ctx, a.Refresh, user.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.CleanUpSessions.Do(w.ctx); err != nil || n != 2 {
		t.Fatalf("clean-up after the retention removed %d (%v); want the logged-out session and the tombstone", n, err)
	}
	w.caller(t, a)
	w.wantRefused(t, "a removed session's access token", loggedOut)
	w.wantRefused(t, "a removed tombstone's access token", gone)
}

// failingSessions is the real Sessions store whose Start fails, after any
// event of the same transaction was recorded.
type failingSessions struct {
	userports.Sessions
	err error
}

func (f failingSessions) Start(context.Context, user.Session, int) ([]user.SessionID, error) {
	return nil, f.err
}

// failingEvents records nothing and fails, like an outbox that cannot be
// written.
type failingEvents struct{ err error }

func (f failingEvents) Record(context.Context, ...ports.Event) error { return f.err }

// TestAnEventRollsBackWithItsChange: a signup whose transaction fails after
// user.created was recorded leaves neither the user nor the event, and an
// event that cannot be recorded fails its change, which leaves nothing.
func TestAnEventRollsBackWithItsChange(t *testing.T) {
	boom := errors.New("boom")
	w := newWorld(t)
	broken := w.with(t, func(d *userapp.Deps) { d.Sessions = failingSessions{Sessions: d.Sessions, err: boom} })
	if _, err := broken.SignUp.Do(w.ctx, signUpInput(t, w, "Alice", user.Client{})); !errors.Is(err, boom) {
		t.Fatalf("signup with a failing session start: %v", err)
	}
	if got := w.outbox.Events(); len(got) != 0 {
		t.Errorf("the failed signup left events: %v", got)
	}
	if _, err := w.store.Users().ByUsername(w.ctx, mustName(t, "alice")); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the failed signup left its user: %v", err)
	}

	tok := w.mustSignUp(t, "Bob", "Sup3r$ecret")
	before := len(w.outbox.Events())
	noOutbox := w.with(t, func(d *userapp.Deps) { d.Events = failingEvents{err: boom} })
	for name, act := range map[string]func() error{
		"logout": func() error { _, err := noOutbox.LogOut.Do(w.ctx, tok.Refresh); return err },
		"delete": func() error { return noOutbox.DeleteAccount.Do(w.ctx, w.caller(t, tok)) },
		"patch": func() error {
			full, _ := user.ParseFullName("Bob Builder")
			_, err := noOutbox.PatchProfile.Do(w.ctx, w.caller(t, tok), userapp.PatchInput{FullName: &full})
			return err
		},
		"login": func() error {
			_, err := noOutbox.LogIn.Do(w.ctx, logInInput(t, w, "Bob", "Sup3r$ecret", user.Client{}))
			return err
		},
	} {
		if err := act(); !errors.Is(err, boom) {
			t.Errorf("%s with an outbox that fails: %v, want the failure", name, err)
		}
	}
	if n := len(w.outbox.Events()); n != before {
		t.Errorf("events went from %d to %d", before, n)
	}
	// None of the changes happened: the session is live, the user unchanged, and the only session his.
	p := w.caller(t, tok)
	u, err := w.Profile.Do(w.ctx, p)
	if err != nil || !u.FullName().IsZero() {
		t.Errorf("profile after the failed changes: %v, %v", u, err)
	}
	if n := len(w.sessionsOf(t, p)); n != 1 {
		t.Errorf("%d sessions after a failed login, want 1", n)
	}
}

// recorded is an event as a test compares it: type, reason, data keys.
type recorded struct {
	ports.Event
	data map[string]any
}

func (w *world) events(t *testing.T) []recorded {
	t.Helper()
	var out []recorded
	for _, e := range w.outbox.Events() {
		r := recorded{Event: e}
		if err := json.Unmarshal(e.Data, &r.data); err != nil {
			t.Fatalf("event %s data %q is not a JSON object: %v", e.Type, e.Data, err)
		}
		out = append(out, r)
	}
	return out
}

func (r recorded) String() string {
	if reason, ok := r.data["reason"]; ok {
		return r.Type + "(" + reason.(string) + ")"
	}
	return r.Type
}

func TestEveryChangeOfAUserLifecycleRecordsItsEvents(t *testing.T) {
	w := newWorld(t)
	start := w.clock.Now()
	mine := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	w.mustSignUp(t, "Bob", "Sup3r$ecret") // another subject
	me := w.caller(t, mine)
	uid := me.UserID
	w.clock.Advance(time.Second)
	laptop := w.logInFrom(t, "alice", "Sup3r$ecret", user.Client{})
	phone := w.logInFrom(t, "alice", "Sup3r$ecret", user.Client{})
	var err error
	if mine, err = w.Refresh.Do(w.ctx, mine.Refresh, user.Client{}); err != nil { // records nothing
		t.Fatal(err)
	}
	me = w.caller(t, mine)
	name, full := mustName(t, "Alice2"), user.FullName{}
	full, _ = user.ParseFullName("Alice Smith")
	w.clock.Advance(time.Second)
	updatedAt := w.clock.Now()
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{Username: &name, FullName: &full}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{}); err != nil { // records nothing
		t.Fatal(err)
	}
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{FullName: &full}); err != nil { // unchanged: nothing
		t.Fatal(err)
	}
	newPw, current := w.password(t, "N3w$ecretX"), w.checked("Sup3r$ecret")
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{Password: &newPw, CurrentPassword: &current}); err != nil {
		t.Fatal(err) // ends laptop and phone
	}
	third := w.logInFrom(t, "alice2", "N3w$ecretX", user.Client{})
	fourth := w.logInFrom(t, "alice2", "N3w$ecretX", user.Client{})
	if err := w.RevokeSession.Do(w.ctx, me, third.SessionID); err != nil {
		t.Fatal(err)
	}
	if n, err := w.RevokeOtherSessions.Do(w.ctx, me); err != nil || n != 1 { // ends fourth
		t.Fatalf("RevokeOtherSessions = %d, %v; want fourth's session alone", n, err)
	}
	w.wantRefused(t, "fourth", fourth)
	stolen := w.logInFrom(t, "alice2", "N3w$ecretX", user.Client{})
	if _, err := w.Refresh.Do(w.ctx, stolen.Refresh, user.Client{}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(settings.ReuseGrace + time.Second)
	if _, err := w.Refresh.Do(w.ctx, stolen.Refresh, user.Client{}); !errors.Is(err, user.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	leaving := w.logInFrom(t, "alice2", "N3w$ecretX", user.Client{})
	if _, err := w.LogOut.Do(w.ctx, leaving.Refresh); err != nil {
		t.Fatal(err)
	}
	last := w.logInFrom(t, "alice2", "N3w$ecretX", user.Client{})
	deletedAt := w.clock.Now()
	if err := w.DeleteAccount.Do(w.ctx, me); err != nil {
		t.Fatal(err)
	}

	var got []string
	var events []recorded
	for _, e := range w.events(t) {
		if e.Subject == uid {
			got = append(got, e.String())
			events = append(events, e)
		}
	}
	want := []string{
		"user.created", "session.started", // signup
		"session.started", "session.started", // two logins
		"user.updated",
		"user.password_changed", "session.revoked(password_changed)", "session.revoked(password_changed)",
		"session.started", "session.started",
		"session.revoked(revoked_by_user)", "session.revoked(revoked_by_user)",
		"session.started", "session.revoked(reuse_detected)",
		"session.started", "session.revoked(logout)",
		"session.started", "session.revoked(account_deleted)", "session.revoked(account_deleted)", "user.deleted",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events of the user:\n got %v\nwant %v", got, want)
	}

	keys := map[string][]string{
		"user.created":          {"created_at", "full_name", "id", "username"},
		"user.updated":          {"changed", "full_name", "id", "updated_at", "username"},
		"user.password_changed": {"at", "id"},
		"user.deleted":          {"at", "id"},
		"session.started":       {"at", "id", "user_id"},
		"session.revoked":       {"at", "id", "reason", "user_id"},
	}
	seen := map[uuid.UUID]bool{}
	for _, e := range events {
		var k []string
		for key := range e.data {
			k = append(k, key)
		}
		slices.Sort(k)
		if !slices.Equal(k, keys[e.Type]) {
			t.Errorf("%s data has %v, want exactly %v", e.Type, k, keys[e.Type])
		}
		if e.ID.Version() != 7 || seen[e.ID] {
			t.Errorf("%s id %s: want a new UUIDv7", e.Type, e.ID)
		}
		seen[e.ID] = true
		if e.Time.Before(start) || e.Time.Location() != time.UTC {
			t.Errorf("%s time %v, want the change's time in UTC", e.Type, e.Time)
		}
		if strings.HasPrefix(e.Type, "session.") && e.data["user_id"] != uid.String() {
			t.Errorf("%s user_id %v, want %s", e.Type, e.data["user_id"], uid)
		}
		for _, key := range []string{"at", "created_at", "updated_at"} {
			if v, ok := e.data[key]; ok {
				if ts, err := time.Parse(time.RFC3339Nano, v.(string)); err != nil || !strings.HasSuffix(v.(string), "Z") || !ts.Equal(e.Time) {
					t.Errorf("%s %s = %v, want the event's time %v in RFC 3339 UTC", e.Type, key, v, e.Time)
				}
			}
		}
	}
	created, updated := events[0].data, events[4].data
	if created["id"] != uid.String() || created["username"] != "Alice" || created["full_name"] != nil {
		t.Errorf("user.created data %v", created)
	}
	if updated["username"] != "Alice2" || updated["full_name"] != "Alice Smith" || !slices.Equal(toStrings(updated["changed"]), []string{"username", "full_name"}) ||
		!events[4].Time.Equal(updatedAt) {
		t.Errorf("user.updated data %v at %v, want both fields changed at %v", updated, events[4].Time, updatedAt)
	}
	for i, sid := range []user.SessionID{laptop.SessionID, phone.SessionID} {
		if got := events[6+i].data["id"]; got != sid.String() && events[7-i].data["id"] != sid.String() {
			t.Errorf("the password change's revocations name %v, want laptop and phone", got)
		}
	}
	if e := events[len(events)-1]; !e.Time.Equal(deletedAt) || e.data["id"] != uid.String() {
		t.Errorf("user.deleted %v at %v, want %s at %v", e.data, e.Time, uid, deletedAt)
	}
	if events[len(events)-2].data["id"] != last.SessionID.String() && events[len(events)-3].data["id"] != last.SessionID.String() {
		t.Error("account deletion did not revoke the last session by event")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func TestNoEventCarriesAPasswordAHashOrAToken(t *testing.T) {
	w := newWorld(t)
	var secrets []string
	keep := func(tok userapp.Tokens) { secrets = append(secrets, tok.Access, tok.Refresh) }
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	keep(tok)
	me := w.caller(t, tok)
	other := w.logInFrom(t, "Alice", "Sup3r$ecret", user.Client{})
	keep(other)
	pw, current := w.password(t, "N3w$ecretX"), w.checked("Sup3r$ecret")
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{Password: &pw, CurrentPassword: &current}); err != nil {
		t.Fatal(err)
	}
	u, _ := w.Profile.Do(w.ctx, me)
	secrets = append(secrets, "Sup3r$ecret", "N3w$ecretX", u.PasswordHash().Reveal(), "$argon2id$")
	if err := w.DeleteAccount.Do(w.ctx, me); err != nil {
		t.Fatal(err)
	}
	events := w.outbox.Events()
	if len(events) < 6 {
		t.Fatalf("only %d events", len(events))
	}
	for _, e := range events {
		doc, _ := json.Marshal(e)
		for _, s := range secrets {
			if strings.Contains(string(doc), s) || strings.Contains(string(e.Data), s) {
				t.Errorf("event %s carries a secret (%.12s…)", e.Type, s)
			}
		}
		if strings.Contains(string(e.Data), "eyJ") {
			t.Errorf("event %s carries something shaped like a token: %s", e.Type, e.Data)
		}
	}
}
