package bootstrap_test

// The contract's disabled-account rule, end to end on both databases: an
// operator's disabling (the use case the admin command runs) revokes every
// session at once with their events, refresh and access tokens stop
// working, a login with the right password gets 403 "account is disabled"
// and one with a wrong password the ordinary 401, still counted as a failed
// attempt; enabling lets the user log in again.

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/application/userapp"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// rawLogin posts a login through the validating client and returns the
// answer with its problem document, if any.
func rawLogin(t *testing.T, c *client, name, password string) (*response, problem) {
	t.Helper()
	r := c.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": password})
	var p problem
	if r.Status >= 400 {
		_ = json.Unmarshal(r.Body, &p)
	}
	return r, p
}

func TestDisabledAccountIsSignedOutAndRefusedOnlyWithTheRightPassword(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		var uc *userapp.UseCases
		c := newApp(t, db, withFx(fx.Populate(&gdb, &uc)), withConfig(func(cfg *bootstrap.Config) {
			cfg.RateLimits = true
			cfg.LimitFailedLogIns = ports.Limit{Events: 3, Window: time.Hour}
			cfg.LimitLogInPerIP = ports.Limit{Events: 1000, Window: time.Minute}
		}))
		first := c.signup("Dana")
		second := c.login("dana", goodPassword)
		uid := c.me(first.access).ID
		id, err := user.ParseID(uid)
		if err != nil {
			t.Fatal(err)
		}
		reason, _ := user.ParseDisableReason("abuse report 7")
		res, err := uc.DisableUser.Do(t.Context(), id, reason)
		if err != nil || res.AlreadyDisabled || len(res.Revoked) != 2 {
			t.Fatalf("DisableUser = %+v, %v; want both sessions revoked", res, err)
		}

		// Every session ended at once: access and refresh tokens alike.
		for _, s := range []session{first, second} {
			c.wantAccessRefused(s.access)
			c.wantRefreshRefused(s.refresh)
		}
		// The right password reveals the state; a wrong one does not.
		r, p := rawLogin(t, c, "Dana", goodPassword)
		if r.Status != http.StatusForbidden || p.Detail != "account is disabled" {
			t.Fatalf("right password on a disabled account: %d %q, want 403 \"account is disabled\"", r.Status, p.Detail)
		}
		if r.refreshCookie() != nil {
			t.Error("the 403 set a refresh cookie")
		}
		r, p = rawLogin(t, c, "Dana", "Wr0ng!Guess-1")
		if r.Status != http.StatusUnauthorized || p.Detail != "invalid username or password" {
			t.Fatalf("wrong password on a disabled account: %d %q, want the ordinary 401", r.Status, p.Detail)
		}
		// Wrong guesses still count against the per-username budget (3): two
		// more and the next attempt is throttled, right password or not.
		rawLogin(t, c, "Dana", "Wr0ng!Guess-2")
		rawLogin(t, c, "Dana", "Wr0ng!Guess-3")
		if r, _ := rawLogin(t, c, "Dana", goodPassword); r.Status != http.StatusTooManyRequests {
			t.Errorf("after 3 wrong passwords: %d, want 429 (failed attempts on a disabled account count)", r.Status)
		}

		labels, events := eventsOf(t, gdb, uid)
		tail := labels[len(labels)-3:]
		want := []string{"session.revoked(account_disabled)", "session.revoked(account_disabled)", "user.disabled"}
		if !slices.Equal(tail, want) {
			t.Fatalf("events after disabling %v, want %v", tail, want)
		}
		if d := events[len(events)-1].data(t); d["id"] != uid || d["at"] == nil || len(d) != 2 {
			t.Errorf("user.disabled data %v, want exactly id and at", d)
		}
		var stored struct {
			DisabledAt     *time.Time
			DisabledReason *string
		}
		if err := gdb.Table("users").Select("disabled_at, disabled_reason").Where("id = ?", uid).Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if stored.DisabledAt == nil || stored.DisabledReason == nil || *stored.DisabledReason != "abuse report 7" {
			t.Errorf("stored disabled state %+v", stored)
		}

		// Enabled again: the old sessions stay ended, a new login works
		// (once the per-username budget allows: a fresh app's limiter is not
		// shared, so enable and log in on this one after the refund).
		changed, err := uc.EnableUser.Do(t.Context(), id)
		if err != nil || !changed {
			t.Fatalf("EnableUser = %v, %v", changed, err)
		}
		c.wantRefreshRefused(first.refresh)
		labels, _ = eventsOf(t, gdb, uid)
		if labels[len(labels)-1] != "user.enabled" {
			t.Errorf("last event %s, want user.enabled", labels[len(labels)-1])
		}
	})
}

func TestEnabledAccountLogsInAgain(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var uc *userapp.UseCases
		c := newApp(t, db, withFx(fx.Populate(&uc)))
		s := c.signup("Erin")
		id, _ := user.ParseID(c.me(s.access).ID)
		if _, err := uc.DisableUser.Do(t.Context(), id, user.DisableReason{}); err != nil {
			t.Fatal(err)
		}
		if again, err := uc.DisableUser.Do(t.Context(), id, user.DisableReason{}); err != nil || !again.AlreadyDisabled {
			t.Errorf("second disable = %+v, %v; want AlreadyDisabled", again, err)
		}
		if r, _ := rawLogin(t, c, "erin", goodPassword); r.Status != http.StatusForbidden {
			t.Fatalf("disabled login %d, want 403", r.Status)
		}
		if _, err := uc.EnableUser.Do(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		c.me(c.login("erin", goodPassword).access)
	})
}
