package bootstrap_test

// usersvc admin, end to end on both databases: Main/Run with "admin ..."
// against the database of a running fx-built service, checking output,
// exit codes, what the database holds, the recorded events, the import
// report, and that the service sees every change (refresh 401, login 403,
// a bcrypt import logging in and being rehashed).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/bootstrap"
)

// adminRun is one run of the admin command.
type adminRun struct {
	code        int
	out, errOut string
}

// admin runs "usersvc admin args..." in-process on c's database, with
// stdin as its standard input, fast hashing and JSON logs.
func admin(t *testing.T, c *client, stdin string, args ...string) adminRun {
	t.Helper()
	env := map[string]string{
		"DATA_DIR": c.app.dataDir, "DATABASE_URL": c.app.dbURL, "LOG_FORMAT": "json",
		"ARGON2_MEMORY_KIB": "8192", "ARGON2_TIME": "1",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errOut bytes.Buffer
	code := bootstrap.Run(append([]string{"admin"}, args...), lookup, strings.NewReader(stdin), &out, &errOut)
	return adminRun{code, out.String(), errOut.String()}
}

func (r adminRun) want(t *testing.T, code int) adminRun {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.errOut)
	}
	return r
}

func (r adminRun) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.out), v); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.out)
	}
}

// audits returns the audit lines a run wrote to standard error.
func (r adminRun) audits(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.errOut), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// wantAudit fails unless the run wrote exactly one audit line of event with
// outcome success, the OS actor and, when uid is set, that user_id.
func (r adminRun) wantAudit(t *testing.T, event, uid string) {
	t.Helper()
	a := r.audits(t)
	if len(a) != 1 || a[0]["event"] != event || a[0]["outcome"] != "success" || a[0]["via"] != "admin" || a[0]["actor"] == "" || a[0]["actor"] == nil {
		t.Fatalf("audit lines %v, want one %s success with via=admin and an actor", a, event)
	}
	if uid != "" && a[0]["user_id"] != uid {
		t.Errorf("audit user_id %v, want %s", a[0]["user_id"], uid)
	}
}

type listedUser struct {
	ID             string  `json:"id"`
	Username       string  `json:"username"`
	State          string  `json:"state"`
	DisabledReason *string `json:"disabled_reason"`
	LastLoginAt    *string `json:"last_login_at"`
	PasswordHash   *string `json:"password_hash"`
	Sessions       []struct {
		ID        string  `json:"id"`
		UserAgent *string `json:"user_agent"`
	} `json:"sessions"`
}

type listPage struct {
	Items      []listedUser `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

const legacyPassword = "0ld!FastAPI-pw"

func TestAdminUsersCommands(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		c := newApp(t, db, withFx(fx.Populate(&gdb)))
		laptop := c.signupWith("Alice", userAgent("Laptop/1.0"))
		phone := c.loginWith("alice", userAgent("Phone/2.0"))
		alice := c.me(laptop.access).ID
		c.signup("Bob")

		// Import: a bcrypt row, a row breaking the username rule, a planted
		// cost, a username another account holds; a header with the legacy
		// column name.
		legacyHash := bcryptHash(t, legacyPassword, "$2b$")
		planted := strings.Replace(bcryptHash(t, "x", "$2b$"), "$04$", "$17$", 1)
		legacyID := "6f1c2a4e-8b7d-4c3a-9e2f-0a1b2c3d4e5f"
		file := filepath.Join(t.TempDir(), "legacy.csv")
		csv := "id,username,hashed_password,full_name,created_at\n" +
			legacyID + ",Legacy42," + legacyHash + ",Ada Lovelace,2021-03-04T05:06:07Z\n" +
			"0b9e2f7c-1d2e-4f5a-8b6c-7d8e9f0a1b2c,bad name," + legacyHash + ",,2022-01-01T00:00:00Z\n" +
			"4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d,Planted," + planted + ",,2023-01-01T00:00:00Z\n" +
			"1a2b3c4d-8e9f-4a0b-9c1d-2e3f4a5b6c7d,ALICE," + legacyHash + ",,2023-01-01T00:00:00Z\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		type report struct {
			Imported, Skipped, Refused int
			Rows                       []struct {
				Line     int
				Username string
				Outcome  string
				Reason   string
			}
		}
		var rep report
		first := admin(t, c, "", "users", "import", file, "--json").want(t, 1) // a row was refused
		first.json(t, &rep)
		if rep.Imported != 1 || rep.Skipped != 0 || rep.Refused != 3 || len(rep.Rows) != 3 {
			t.Fatalf("first import report %+v, want 1 imported, 3 refused", rep)
		}
		for i, want := range []struct {
			line   int
			reason string
		}{{3, "username:"}, {4, "cost 17"}, {5, "already taken"}} {
			if r := rep.Rows[i]; r.Line != want.line || r.Outcome != "refused" || !strings.Contains(r.Reason, want.reason) {
				t.Errorf("report row %d = %+v, want line %d refused for %q", i, r, want.line, want.reason)
			}
		}
		first.wantAudit(t, "users_imported", "")
		again := admin(t, c, "", "users", "import", file, "--json").want(t, 1)
		rep = report{}
		again.json(t, &rep)
		if rep.Imported != 0 || rep.Skipped != 1 || rep.Refused != 3 || rep.Rows[0].Line != 2 || rep.Rows[0].Outcome != "skipped" {
			t.Fatalf("re-import report %+v, want line 2 skipped, nothing imported", rep)
		}
		for _, r := range []adminRun{first, again} {
			if strings.Contains(r.out+r.errOut, legacyHash) || strings.Contains(r.out+r.errOut, "$2b$") {
				t.Fatal("the import printed a hash")
			}
		}
		// The table form reports the same lines.
		table := admin(t, c, "", "users", "import", file).want(t, 1)
		if !strings.Contains(table.out, "imported 0, skipped 1, refused 3") || !strings.Contains(table.out, "LINE") {
			t.Errorf("import table:\n%s", table.out)
		}
		labels, _ := eventsOf(t, gdb, legacyID)
		if !slices.Equal(labels, []string{"user.created"}) {
			t.Errorf("events of the imported user %v, want one user.created (none for the re-runs)", labels)
		}
		// The imported user logs in with the old password; that login
		// replaced the bcrypt hash with argon2id.
		c.me(c.login("legacy42", legacyPassword).access)
		var hash string
		if err := gdb.Table("users").Select("password_hash").Where("id = ?", legacyID).Scan(&hash).Error; err != nil {
			t.Fatal(err)
		}
		wantArgon2id(t, hash, legacyPassword, 8192, 1, 1)

		// List: every user, filters, pages.
		var page listPage
		admin(t, c, "", "users", "list", "--json").want(t, 0).json(t, &page)
		var names []string
		for _, u := range page.Items {
			names = append(names, u.Username+"/"+u.State)
		}
		if !slices.Equal(names, []string{"Alice/active", "Bob/active", "Legacy42/active"}) || page.NextCursor != nil {
			t.Fatalf("list %v next %v", names, page.NextCursor)
		}
		if page.Items[0].LastLoginAt == nil || page.Items[0].PasswordHash != nil {
			t.Errorf("Alice lists last login %v (want set) and a hash field %v (want none)", page.Items[0].LastLoginAt, page.Items[0].PasswordHash)
		}
		page = listPage{}
		admin(t, c, "", "users", "list", "--limit", "2", "--json").want(t, 0).json(t, &page)
		if len(page.Items) != 2 || page.NextCursor == nil {
			t.Fatalf("first page of 2: %+v", page)
		}
		cursor := *page.NextCursor
		page = listPage{}
		admin(t, c, "", "users", "list", "--limit", "2", "--cursor", cursor, "--json").want(t, 0).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].Username != "Legacy42" || page.NextCursor != nil {
			t.Fatalf("second page: %+v", page)
		}
		page = listPage{}
		admin(t, c, "", "users", "list", "--prefix", "LE", "--json").want(t, 0).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != legacyID {
			t.Fatalf("--prefix LE: %+v", page)
		}
		tab := admin(t, c, "", "users", "list").want(t, 0)
		if lines := strings.Split(strings.TrimSpace(tab.out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") ||
			!strings.Contains(lines[0], "LAST LOGIN") || !strings.Contains(lines[1], alice) {
			t.Errorf("list table:\n%s", tab.out)
		}
		admin(t, c, "", "users", "list", "--state", "sideways").want(t, 2)
		admin(t, c, "", "users", "list", "--cursor", "!!").want(t, 2)

		// Show: by name or id, with the live sessions.
		var shown listedUser
		admin(t, c, "", "users", "show", "ALICE", "--json").want(t, 0).json(t, &shown)
		if shown.ID != alice || len(shown.Sessions) != 2 || shown.Sessions[0].UserAgent == nil || *shown.Sessions[0].UserAgent != "Phone/2.0" {
			t.Fatalf("show alice: %+v", shown)
		}
		text := admin(t, c, "", "users", "show", alice).want(t, 0)
		if !strings.Contains(text.out, "live sessions: 2") || !strings.Contains(text.out, "Laptop/1.0") || !strings.Contains(text.out, "USER AGENT") {
			t.Errorf("show table:\n%s", text.out)
		}
		missing := admin(t, c, "", "users", "show", "nobody").want(t, 1)
		if !strings.Contains(missing.errOut, "no such user") {
			t.Errorf("unknown user message: %q", missing.errOut)
		}
		admin(t, c, "", "users", "show").want(t, 2)

		// Disable: every session ends, refresh 401, login 403.
		dis := admin(t, c, "", "users", "disable", "alice", "--reason", "abuse report 7").want(t, 0)
		dis.wantAudit(t, "account_disabled", alice)
		if !strings.Contains(dis.out, "2 session(s) revoked") {
			t.Errorf("disable output: %q", dis.out)
		}
		c.wantRefreshRefused(laptop.refresh)
		c.wantRefreshRefused(phone.refresh)
		// The admin command is another process to the service: on
		// PostgreSQL the service hears of the revocation by its listener
		// (NOTIFY, sent at the command's commit), a moment later.
		eventually(t, 2*time.Second, "the service refusing the disabled account's access token", func() bool {
			return c.do(http.MethodGet, base+"/me", nil, bearer(phone.access)).Status == http.StatusUnauthorized
		})
		c.wantAccessRefused(phone.access)
		if r, p := rawLogin(t, c, "alice", goodPassword); r.Status != http.StatusForbidden || p.Detail != "account is disabled" {
			t.Fatalf("login of a disabled account: %d %q", r.Status, p.Detail)
		}
		page = listPage{}
		admin(t, c, "", "users", "list", "--state", "disabled", "--json").want(t, 0).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != alice || page.Items[0].DisabledReason == nil || *page.Items[0].DisabledReason != "abuse report 7" {
			t.Fatalf("--state disabled: %+v", page)
		}
		var act struct {
			Changed bool `json:"changed"`
		}
		admin(t, c, "", "users", "disable", "alice", "--json").want(t, 0).json(t, &act)
		if act.Changed {
			t.Error("disabling a disabled account reported a change")
		}
		admin(t, c, "", "users", "enable", alice).want(t, 0).wantAudit(t, "account_enabled", alice)
		again2 := c.loginWith("alice", userAgent("Laptop/1.0"))
		labels, _ = eventsOf(t, gdb, alice)
		if tail := labels[len(labels)-5:]; !slices.Equal(tail, []string{"session.revoked(account_disabled)", "session.revoked(account_disabled)",
			"user.disabled", "user.enabled", "session.started"}) {
			t.Errorf("events of disable, enable, login: %v", tail)
		}

		// Logout: every session revoked, reason logout.
		out := admin(t, c, "", "users", "logout", "alice", "--json").want(t, 0)
		out.wantAudit(t, "all_sessions_revoked", alice)
		c.wantRefreshRefused(again2.refresh)
		labels, _ = eventsOf(t, gdb, alice)
		if labels[len(labels)-1] != "session.revoked(logout)" {
			t.Errorf("last event after logout %s", labels[len(labels)-1])
		}

		// Export: JSON lines, no hash unless asked.
		exp := admin(t, c, "", "users", "export").want(t, 0)
		lines := strings.Split(strings.TrimSpace(exp.out), "\n")
		if len(lines) != 3 || strings.Contains(exp.out, "password_hash") || strings.Contains(exp.out, "$argon2id$") {
			t.Fatalf("export without hashes:\n%s", exp.out)
		}
		exp.wantAudit(t, "users_exported", "")
		withHashes := admin(t, c, "", "users", "export", "--with-hashes").want(t, 0)
		if strings.Count(withHashes.out, `"password_hash":"$argon2id$`) != 3 {
			t.Errorf("export --with-hashes lacks the hashes:\n%.300s", withHashes.out)
		}
		// An export with hashes re-imports as skipped rows: the same users.
		dump := filepath.Join(t.TempDir(), "dump.jsonl")
		admin(t, c, "", "users", "export", "--with-hashes", "--out", dump).want(t, 0)
		if st, err := os.Stat(dump); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("export file mode %v, %v; want 0600", st.Mode(), err)
		}
		rep = report{}
		admin(t, c, "", "users", "import", dump, "--json").want(t, 0).json(t, &rep)
		if rep.Skipped != 3 || rep.Imported != 0 || rep.Refused != 0 {
			t.Errorf("re-import of an export %+v, want 3 skipped", rep)
		}

		// Delete: asks, then deletes with the events of account deletion.
		no := admin(t, c, "Bob\n", "users", "delete", "alice").want(t, 1)
		if !strings.Contains(no.errOut, "Type the username") || !strings.Contains(no.errOut, "nothing deleted") {
			t.Errorf("unconfirmed delete: %q", no.errOut)
		}
		admin(t, c, "", "users", "show", "alice").want(t, 0)
		admin(t, c, "Alice\n", "users", "delete", "alice").want(t, 0).wantAudit(t, "account_deleted", alice)
		admin(t, c, "", "users", "show", "alice").want(t, 1)
		admin(t, c, "", "users", "delete", "Bob", "--yes", "--json").want(t, 0)
		labels, _ = eventsOf(t, gdb, alice)
		if labels[len(labels)-1] != "user.deleted" {
			t.Errorf("last event of the deleted user %s", labels[len(labels)-1])
		}
		if r, _ := rawLogin(t, c, "bob", goodPassword); r.Status != http.StatusUnauthorized {
			t.Errorf("login of a deleted user %d, want 401", r.Status)
		}
	})
}

func TestAdminKeysGenerateWritesAKeyTheServiceLoads(t *testing.T) {
	c := newApp(t, onDatabase(sqliteDB))
	path := filepath.Join(t.TempDir(), "next.pem")
	var res struct{ Path, Kid string }
	run := admin(t, c, "", "keys", "generate", path, "--json").want(t, 0)
	run.json(t, &res)
	run.wantAudit(t, "signing_key_generated", "")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----") || strings.Contains(run.out+run.errOut, string(data[28:60])) {
		t.Fatal("not a PKCS#8 PEM file, or the key was printed")
	}
	if _, err := tokens.LoadKeys([]string{path}); err != nil {
		t.Fatalf("tokens.LoadKeys: %v", err)
	}
	// It refuses to overwrite, unless --force.
	admin(t, c, "", "keys", "generate", path).want(t, 1)
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
		t.Fatal("a refused generate changed the file")
	}
	admin(t, c, "", "keys", "generate", path, "--force").want(t, 0)
	if again, _ := os.ReadFile(path); bytes.Equal(again, data) {
		t.Fatal("--force kept the old key")
	}
	admin(t, c, "", "keys", "generate", path, "--force", "--json").want(t, 0).json(t, &res)
	// The service signs with it.
	svc := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.SigningKeyFiles = []string{path} }))
	if kid := tokenKid(t, svc.signup("Keyed").access); kid != res.Kid {
		t.Errorf("token kid %q, want the generated key's %q", kid, res.Kid)
	}
	wantJWKS(t, svc, res.Kid)
}

func TestAdminHelpAndUsageErrors(t *testing.T) {
	c := newApp(t, onDatabase(sqliteDB))
	help := admin(t, c, "", "--help").want(t, 0)
	for _, cmd := range []string{"users list", "users show", "users disable", "users enable", "users logout", "users delete", "users import", "users export", "keys generate"} {
		if !strings.Contains(help.out, cmd) {
			t.Errorf("admin --help lacks %s", cmd)
		}
		sub := admin(t, c, "", append(strings.Fields(cmd), "--help")...).want(t, 0)
		if !strings.Contains(sub.out, "Usage: usersvc admin "+cmd) || !strings.Contains(sub.out, "Flags:") {
			t.Errorf("%s --help:\n%s", cmd, sub.out)
		}
	}
	admin(t, c, "").want(t, 2)
	admin(t, c, "", "users").want(t, 2)
	admin(t, c, "", "users", "frobnicate").want(t, 2)
	admin(t, c, "", "users", "list", "--nope").want(t, 2)
	admin(t, c, "", "users", "list", "--limit", "0").want(t, 2)
	admin(t, c, "", "users", "disable", "x", "--reason", "  ").want(t, 2)
	admin(t, c, "", "users", "import", filepath.Join(t.TempDir(), "missing.csv")).want(t, 1)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	_ = os.WriteFile(bad, []byte("name,hash\nx,y\n"), 0o600)
	if r := admin(t, c, "", "users", "import", bad).want(t, 2); !strings.Contains(r.errOut, "lacks id") {
		t.Errorf("header error: %q", r.errOut)
	}
	var out bytes.Buffer
	if code := bootstrap.Main([]string{"--help"}, func(string) (string, bool) { return "", false }, &out, &out); code != 0 || !strings.Contains(out.String(), "usersvc admin") {
		t.Errorf("usersvc --help does not list admin (exit %d)", code)
	}
}
