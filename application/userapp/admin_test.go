package userapp_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
)

func records(rs ...userapp.ImportRecord) func(func(userapp.ImportRecord) bool) {
	return func(yield func(userapp.ImportRecord) bool) {
		for _, r := range rs {
			if !yield(r) {
				return
			}
		}
	}
}

func eventTypes(w *world) []string {
	var out []string
	for _, e := range w.outbox.Events() {
		out = append(out, e.Type)
	}
	return out
}

func TestImportUsersValidatesEveryRowCommitsInBatchesAndIsIdempotent(t *testing.T) {
	w := newWorld(t)
	w.mustSignUp(t, "Taken", "Str0ng!Passw0rd")
	h, _ := bcrypt.GenerateFromPassword([]byte("Legacy$Pass1"), 4)
	hash := string(h)
	good := func(line int, id, name string) userapp.ImportRecord {
		return userapp.ImportRecord{Line: line, ID: id, Username: name, PasswordHash: hash, CreatedAt: "2021-03-04T05:06:07Z"}
	}
	future := good(7, "00000000-0000-4000-8000-000000000007", "Future")
	future.CreatedAt = w.clock.Now().Add(time.Hour).Format(time.RFC3339)
	badHash := good(8, "00000000-0000-4000-8000-000000000008", "BadHash")
	badHash.PasswordHash = "md5:abc"
	badName := good(9, "00000000-0000-4000-8000-000000000009", "Full Name")
	shortID := good(10, "00000000000040008000000000000010", "ShortID")
	rows := []userapp.ImportRecord{
		good(2, "00000000-0000-4000-8000-000000000002", "One"),
		good(3, "00000000-0000-4000-8000-000000000003", "Two"),
		good(4, "00000000-0000-4000-8000-000000000004", "taken"), // another account's username
		good(5, "00000000-0000-4000-8000-000000000005", "Three"),
		{Line: 6, Malformed: "has 2 fields, the header 5"},
		future, badHash, badName, shortID,
	}
	rep, err := w.ImportUsers.Do(w.ctx, records(rows...), 2)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 3 || rep.Refused != 6 || rep.Skipped != 0 {
		t.Fatalf("report %+v", rep)
	}
	var lines []int
	for _, r := range rep.Rows {
		lines = append(lines, r.Line)
		if strings.Contains(r.Reason, hash) || strings.Contains(r.Reason, "md5:abc") {
			t.Errorf("line %d reason shows the hash: %q", r.Line, r.Reason)
		}
	}
	if !slices.Equal(lines, []int{4, 6, 7, 8, 9, 10}) {
		t.Errorf("refused lines %v, want 4, 6-10 in file order", lines)
	}
	created := 0
	for _, e := range eventTypes(w) {
		if e == "user.created" {
			created++
		}
	}
	if created != 4 { // Taken's signup and the three imports
		t.Errorf("%d user.created events, want 4", created)
	}
	// Imported users log in with their old password.
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "three"), Password: w.checked("Legacy$Pass1")}); err != nil {
		t.Fatalf("imported user login: %v", err)
	}

	// A second run skips what got in and records nothing.
	before := len(w.outbox.Recorded())
	rep, err = w.ImportUsers.Do(w.ctx, records(rows...), 500)
	if err != nil || rep.Imported != 0 || rep.Skipped != 3 || rep.Refused != 6 {
		t.Fatalf("second run %+v, %v", rep, err)
	}
	if len(w.outbox.Recorded()) != before {
		t.Error("a re-run recorded events")
	}
	// The same id with another username is refused.
	rep, _ = w.ImportUsers.Do(w.ctx, records(good(2, "00000000-0000-4000-8000-000000000002", "Other")), 0)
	if rep.Refused != 1 || !strings.Contains(rep.Rows[0].Reason, "another user") {
		t.Errorf("same id, other username: %+v", rep)
	}
}

func TestDisabledAccountIsRevealedOnlyToItsPassword(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Dora", "Str0ng!Passw0rd")
	res, err := w.DisableUser.Do(w.ctx, user.ID(tok.UserID), user.DisableReason{})
	if err != nil || len(res.Revoked) != 1 {
		t.Fatalf("disable = %+v, %v", res, err)
	}
	w.wantRefused(t, "the disabled account's session", tok)
	_, err = w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "dora"), Password: w.checked("Wr0ng!Passw0rd")})
	if !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("wrong password on a disabled account: %v, want ErrInvalidCredentials", err)
	}
	_, err = w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "dora"), Password: w.checked("Str0ng!Passw0rd")})
	if !errors.Is(err, user.ErrAccountDisabled) {
		t.Fatalf("right password on a disabled account: %v, want ErrAccountDisabled", err)
	}
	if live, _ := w.store.Sessions().List(w.ctx, user.ID(tok.UserID), w.clock.Now()); len(live) != 0 {
		t.Errorf("a refused login left %d live sessions", len(live))
	}
	types := eventTypes(w)
	if !slices.Equal(types[len(types)-2:], []string{"session.revoked", "user.disabled"}) {
		t.Errorf("events %v", types)
	}
	if ok, err := w.EnableUser.Do(w.ctx, user.ID(tok.UserID)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "dora"), Password: w.checked("Str0ng!Passw0rd")}); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
}
