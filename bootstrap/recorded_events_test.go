package bootstrap_test

// The events the user context records, end to end through the real fx app
// on PostgreSQL and SQLite: every act of a full user lifecycle leaves exactly
// its events in the outbox table, in order, with the contract's data and no
// secret; and an event's write rolls back with its change. Delivery (the
// relay, NATS) is tested with the relay.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

// outboxEvent is one row of the outbox table.
type outboxEvent struct {
	ID      string
	Type    string
	Subject string
	Time    time.Time
	Data    string
}

func (e outboxEvent) data(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e.Data), &m); err != nil {
		t.Fatalf("%s data %q: %v", e.Type, e.Data, err)
	}
	return m
}

// label is the event's type, with the reason of a session.revoked.
func (e outboxEvent) label(t testing.TB) string {
	if reason, ok := e.data(t)["reason"]; ok {
		return fmt.Sprintf("%s(%v)", e.Type, reason)
	}
	return e.Type
}

// outbox reads every event of the outbox table in the order it was recorded.
func outbox(t testing.TB, gdb *gorm.DB) []outboxEvent {
	t.Helper()
	var rows []outboxEvent
	if err := gdb.Table("outbox").Select("id, type, subject, time, data").Order("seq").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// eventsOf returns the labels of the events whose subject is uid.
func eventsOf(t testing.TB, gdb *gorm.DB, uid string) ([]string, []outboxEvent) {
	t.Helper()
	var labels []string
	var events []outboxEvent
	for _, e := range outbox(t, gdb) {
		if e.Subject == uid {
			labels = append(labels, e.label(t))
			events = append(events, e)
		}
	}
	return labels, events
}

func TestOutboxHoldsExactlyTheEventsOfAUserLifecycle(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		c := newApp(t, db, withGrace(0), withConfig(func(cfg *bootstrap.Config) { cfg.SessionsPerUser = 3 }), withFx(fx.Populate(&gdb)))
		var secrets []string
		keep := func(s session) session { secrets = append(secrets, s.access, s.refresh); return s }
		mine := keep(c.signupWith("Lifecycle", userAgent("Laptop/1.0")))
		uid := c.me(mine.access).ID
		bystander := keep(c.signup("Bystander"))
		var hash string
		if err := gdb.Table("users").Select("password_hash").Where("id = ?", uid).Scan(&hash).Error; err != nil || hash == "" {
			t.Fatalf("stored hash: %q, %v", hash, err)
		}
		secrets = append(secrets, hash, goodPassword, newPassword)

		laptop := keep(c.login("lifecycle", goodPassword))
		mine = keep(c.refresh(mine.refresh).wantTokens(t, http.StatusOK)) // a rotation records nothing
		c.do(http.MethodPatch, base, map[string]any{"username": "Lifecycle2", "full_name": "Life Cycle"}, bearer(mine.access)).wantStatus(t, http.StatusOK)
		c.do(http.MethodPatch, base, map[string]any{}, bearer(mine.access)).wantStatus(t, http.StatusOK)                          // nothing
		c.do(http.MethodPatch, base, map[string]any{"full_name": "Life Cycle"}, bearer(mine.access)).wantStatus(t, http.StatusOK) // unchanged: nothing
		c.do(http.MethodPut, base, map[string]any{"username": "Lifecycle2", "full_name": "Life Cycle", "password": goodPassword, "current_password": goodPassword},
			bearer(mine.access)).wantStatus(t, http.StatusOK) // the same profile and password: nothing
		c.do(http.MethodPut, base, map[string]any{"username": "Lifecycle2", "password": newPassword, "current_password": goodPassword},
			bearer(mine.access)).wantStatus(t, http.StatusOK) // full_name cleared, password changed, laptop revoked
		c.wantAccessRefused(laptop.access)

		relog := func() session { return keep(c.login("lifecycle2", newPassword)) }
		one, two := relog(), relog()
		c.do(http.MethodPatch, mySessions+"/"+sid(t, one), map[string]string{"name": "Named"}, bearer(mine.access)).wantStatus(t, http.StatusOK) // nothing
		c.do(http.MethodDelete, mySessions+"/"+sid(t, one), nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)
		three := relog() // mine, two, three live: the cap
		time.Sleep(5 * time.Millisecond)
		mine = keep(c.refresh(mine.refresh).wantTokens(t, http.StatusOK))
		c.refresh(three.refresh).wantTokens(t, http.StatusOK)
		relog() // four, evicts two, now the least recently used
		c.wantAccessRefused(two.access)
		c.do(http.MethodDelete, mySessions, nil, bearer(mine.access)).wantStatus(t, http.StatusOK) // three and four
		stolen := relog()
		c.refresh(stolen.refresh).wantTokens(t, http.StatusOK)
		c.wantRefreshRefused(stolen.refresh) // reuse without grace: theft
		leaving := relog()
		c.do(http.MethodPost, base+"/logout", nil, withCookie(leaving.refresh)).wantStatus(t, http.StatusNoContent)
		relog()
		c.do(http.MethodDelete, base, nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)

		got, events := eventsOf(t, gdb, uid)
		want := []string{
			"user.created", "session.started", // signup
			"session.started", // laptop
			"user.updated",
			"user.updated", "user.password_changed", "session.revoked(password_changed)",
			"session.started", "session.started", // one, two
			"session.revoked(revoked_by_user)",            // one
			"session.started",                             // three
			"session.started", "session.revoked(evicted)", // four evicts two
			"session.revoked(revoked_by_user)", "session.revoked(revoked_by_user)", // the others
			"session.started", "session.revoked(reuse_detected)",
			"session.started", "session.revoked(logout)",
			"session.started", "session.revoked(account_deleted)", "session.revoked(account_deleted)", "user.deleted",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("the user's events:\n got %q\nwant %q", got, want)
		}
		if others, _ := eventsOf(t, gdb, c.me(bystander.access).ID); !slices.Equal(others, []string{"user.created", "session.started"}) {
			t.Errorf("the bystander's events %q", others)
		}

		keys := map[string]string{
			"user.created":          "created_at full_name id username",
			"user.updated":          "changed full_name id updated_at username",
			"user.password_changed": "at id",
			"user.deleted":          "at id",
			"session.started":       "at id user_id",
			"session.revoked":       "at id reason user_id",
		}
		ids := map[string]bool{}
		for i, e := range events {
			d := e.data(t)
			var k []string
			for key := range d {
				k = append(k, key)
			}
			slices.Sort(k)
			if strings.Join(k, " ") != keys[e.Type] {
				t.Errorf("event %d %s has data fields %v, want exactly %s", i, e.Type, k, keys[e.Type])
			}
			if ids[e.ID] {
				t.Errorf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
			if strings.HasPrefix(e.Type, "session.") && d["user_id"] != uid {
				t.Errorf("%s user_id %v, want %s", e.Type, d["user_id"], uid)
			}
			if !strings.HasPrefix(e.Type, "session.") && d["id"] != uid {
				t.Errorf("%s id %v, want %s", e.Type, d["id"], uid)
			}
			for _, key := range []string{"at", "created_at", "updated_at"} {
				if v, ok := d[key]; ok {
					s, _ := v.(string)
					if at, err := time.Parse(time.RFC3339Nano, s); err != nil || !strings.HasSuffix(s, "Z") || !at.Equal(e.Time) {
						t.Errorf("%s %s = %v, want the event's time %v, RFC 3339 in UTC", e.Type, key, v, e.Time)
					}
				}
			}
			for _, secret := range secrets {
				if strings.Contains(e.Data, secret) {
					t.Errorf("event %s carries a secret (%.12s…)", e.Type, secret)
				}
			}
			if strings.Contains(e.Data, "$argon2id$") || jwtPattern.MatchString(e.Data) {
				t.Errorf("event %s carries a hash or a token: %s", e.Type, e.Data)
			}
		}
		created, renamed, cleared := events[0].data(t), events[3].data(t), events[4].data(t)
		if created["username"] != "Lifecycle" || created["full_name"] != nil {
			t.Errorf("user.created %v", created)
		}
		if renamed["username"] != "Lifecycle2" || renamed["full_name"] != "Life Cycle" || fmt.Sprint(renamed["changed"]) != "[username full_name]" {
			t.Errorf("user.updated %v, want the new values and changed [username full_name]", renamed)
		}
		if cleared["full_name"] != nil || fmt.Sprint(cleared["changed"]) != "[full_name]" {
			t.Errorf("user.updated of the PUT %v, want full_name null and changed [full_name]", cleared)
		}
		for i, s := range map[int]session{1: mine, 2: laptop, 6: laptop, 9: one, 12: two, 16: stolen, 18: leaving} {
			if id := events[i].data(t)["id"]; id != sid(t, s) {
				t.Errorf("event %d (%s) names session %v, want %s", i, events[i].label(t), id, sid(t, s))
			}
		}
	})
}

// failingAfterRecord is the app's ports.Events, which, once armed, records
// and then fails, as if the change's transaction broke after the event was
// written: the event must roll back with the change.
type failingAfterRecord struct {
	ports.Events
	armed atomic.Bool
}

var errAfterRecord = fmt.Errorf("test: the transaction fails after recording: %w", ports.ErrUnavailable)

func (f *failingAfterRecord) Record(ctx context.Context, events ...ports.Event) error {
	if err := f.Events.Record(ctx, events...); err != nil {
		return err
	}
	if f.armed.Load() {
		return errAfterRecord
	}
	return nil
}

func TestAnEventRollsBackWithItsChange(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		fail := &failingAfterRecord{}
		c := newApp(t, db, withFx(fx.Populate(&gdb), fx.Decorate(func(e ports.Events) ports.Events { fail.Events = e; return fail })))
		mine := c.signup("Steady")
		other := c.login("steady", goodPassword)
		before := len(outbox(t, gdb))
		if before != 3 {
			t.Fatalf("%d events before, want 3", before)
		}

		fail.armed.Store(true)
		c.do(http.MethodPost, base+"/signup", credentials{Username: "Phantom", Password: goodPassword}).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodPost, base+"/login", map[string]string{"username": "steady", "password": goodPassword}).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodPatch, base, map[string]any{"full_name": "Never Stored"}, bearer(mine.access)).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodPatch, base, map[string]any{"password": newPassword, "current_password": goodPassword}, bearer(mine.access)).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodDelete, mySessions+"/"+sid(t, other), nil, bearer(mine.access)).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodPost, base+"/logout", nil, withCookie(other.refresh)).wantProblem(t, http.StatusServiceUnavailable)
		c.do(http.MethodDelete, base, nil, bearer(mine.access)).wantProblem(t, http.StatusServiceUnavailable)
		fail.armed.Store(false)

		if after := outbox(t, gdb); len(after) != before {
			t.Errorf("%d events after the failed changes, want the %d from before: %v", len(after), before, after[before:])
		}
		// And none of the changes happened.
		me := c.me(mine.access)
		if me.FullName != nil {
			t.Errorf("the full name was stored: %s", *me.FullName)
		}
		c.me(other.access)
		if list := c.sessions(mine.access); len(list) != 2 {
			t.Errorf("%d sessions, want the 2 from before (no login, no revocation)", len(list))
		}
		c.login("steady", goodPassword) // the old password still works
		c.signup("Phantom")             // the name is still free
		if !errors.Is(errAfterRecord, ports.ErrUnavailable) {
			t.Fatal("the injected failure must read as an outage (503)")
		}
	})
}
