package bootstrap_test

// Authentication as a platform capability, end to end on PostgreSQL: a
// revoked session's access token is refused on every route of every context
// at once, on every instance (LISTEN/NOTIFY), also while an instance's
// listener is down (it falls back to asking the table), and the session
// check costs no statement in the steady state: GET /me is one statement and
// a chat read is one, as PostgreSQL's own statement log shows.

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/bootstrap"
)

// refusedWithin polls GET /me with access every 5 ms until it is refused, and
// returns how long that took; it fails the test after limit.
func (c *client) refusedWithin(access string, limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		r, err := c.send(http.MethodGet, base+"/me", nil, bearer(access))
		if err != nil {
			c.t.Fatal(err)
		}
		if r.Status == http.StatusUnauthorized {
			return time.Since(start)
		}
		if r.Status != http.StatusOK {
			c.t.Fatalf("GET /me answered %d while waiting for the revocation: %s", r.Status, r.Body)
		}
		if time.Since(start) > limit {
			c.t.Fatalf("the revoked session's token was still accepted after %s", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRevocationReachesAnotherInstanceAtOnce(t *testing.T) {
	var revA, revB *sqlstore.Revocations
	a := newApp(t, withFx(fx.Populate(&revA)))
	b := newApp(t, sharingDatabaseOf(a), withFx(fx.Populate(&revB)))
	eventually(t, 10*time.Second, "both listeners trusted", func() bool { return revA.Trusted() && revB.Trusted() })

	s := a.signup("Roamer")
	b.me(s.access)
	b.do(http.MethodGet, chats, nil, bearer(s.access)).wantStatus(t, http.StatusOK)

	a.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantStatus(t, http.StatusNoContent)
	a.wantAccessRefused(s.access) // the revoking instance knows at once
	took := b.refusedWithin(s.access, time.Second)
	t.Logf("instance B refused the logged-out session's token %s after A's logout answered", took)
	b.do(http.MethodGet, chats, nil, bearer(s.access)).wantProblem(t, http.StatusUnauthorized)
	if !revB.Trusted() {
		t.Fatal("B fell back to the table: the notification path was not what refused the token")
	}

	// The other revocations take the same path: a password change ends the
	// user's other sessions on every instance.
	other := a.login("Roamer", goodPassword)
	mine := a.login("Roamer", goodPassword)
	b.me(other.access)
	a.do(http.MethodPatch, base, map[string]string{"password": newPassword, "current_password": goodPassword}, bearer(mine.access)).wantStatus(t, http.StatusOK)
	b.refusedWithin(other.access, time.Second)
	b.me(mine.access)
}

// dialGate makes the revocation listener's connections fail while closed,
// so a test can keep an instance's listener down as long as it needs.
type dialGate struct{ closed atomic.Bool }

func (g *dialGate) decorate(cfg *pgx.ConnConfig) *pgx.ConnConfig {
	if cfg == nil {
		return nil
	}
	gated := cfg.Copy()
	dial := gated.DialFunc
	gated.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if g.closed.Load() {
			return nil, errors.New("test: the listener's network is down")
		}
		return dial(ctx, network, addr)
	}
	return gated
}

func TestRevocationHoldsWhileTheListenerIsDown(t *testing.T) {
	var revB *sqlstore.Revocations
	gate := &dialGate{}
	a := newApp(t)
	b := newApp(t, sharingDatabaseOf(a), withFx(fx.Populate(&revB), fx.Decorate(gate.decorate)))
	eventually(t, 10*time.Second, "B's listener trusted", revB.Trusted)

	revoked, live := a.signup("Careful"), a.signup("Steady")
	b.me(revoked.access)

	gate.closed.Store(true)
	adminExec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
		a.app.dbName, sqlstore.ListenerApplicationName)
	eventually(t, 10*time.Second, "B notices its listener is gone", func() bool { return !revB.Trusted() })

	a.do(http.MethodPost, base+"/logout", nil, withCookie(revoked.refresh)).wantStatus(t, http.StatusNoContent)
	b.wantAccessRefused(revoked.access) // no notification can arrive: B asks the table
	b.do(http.MethodGet, chats, nil, bearer(revoked.access)).wantProblem(t, http.StatusUnauthorized)
	b.me(live.access) // and a live session still works meanwhile
	if revB.Trusted() {
		t.Fatal("the gate did not keep B's listener down")
	}

	gate.closed.Store(false)
	eventually(t, 10*time.Second, "B's listener back and reloaded", revB.Trusted)
	b.wantAccessRefused(revoked.access) // the reload brought the revocation it missed
	b.me(live.access)
}

// postgresLog returns the PostgreSQL server's log file: TEST_POSTGRES_LOG, or
// the Debian cluster's log. Outside CI a missing log skips the test.
func postgresLog(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TEST_POSTGRES_LOG")
	if path == "" {
		matches, _ := filepath.Glob("/var/log/postgresql/postgresql-*-main.log")
		if len(matches) > 0 {
			path = matches[0]
		}
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL's log %q cannot be read (set TEST_POSTGRES_LOG); CI=true makes this test mandatory", path)
	}
	t.Skipf("PostgreSQL's log %q cannot be read; set TEST_POSTGRES_LOG", path)
	return ""
}

// withStatementLog makes PostgreSQL log every statement of the app's
// database (log_statement = all, for this database only), from its first
// connection on.
func withStatementLog(t *testing.T) option {
	return withConfig(func(cfg *bootstrap.Config) {
		u, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		adminExec(t, "ALTER DATABASE "+pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()+" SET log_statement = 'all'")
	})
}

// loggedStatement matches a statement line of the server log:
// "<time> [<pid>] <user>@<database> LOG:  statement: ..." or "... execute <name>: ...".
var loggedStatement = regexp.MustCompile(`^\S+ \S+ \S+ \[(\d+)\] \S*@(\S+) LOG:  (?:statement|execute [^:]*): (.*)$`)

// statementsOf returns the statements the app's database ran while fn ran,
// leaving out the revocation listener's own connection.
func statementsOf(t *testing.T, c *client, fn func()) []string {
	t.Helper()
	path := postgresLog(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	listeners := map[string]bool{}
	for _, pid := range adminQueryStrings(t, "SELECT pid::text FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
		c.app.dbName, sqlstore.ListenerApplicationName) {
		listeners[pid] = true
	}
	fn()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(info.Size(), 0); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := loggedStatement.FindStringSubmatch(sc.Text())
		if m != nil && m[2] == c.app.dbName && !listeners[m[1]] {
			out = append(out, m[3])
		}
	}
	return out
}

func TestMeAndAChatReadAreOneStatementEach(t *testing.T) {
	var rev *sqlstore.Revocations
	// The relay polls only when woken by a commit (never during these
	// reads) or after an hour, so none of its statements land in a count.
	c := newApp(t, withStatementLog(t), withFx(fx.Populate(&rev)),
		withConfig(func(cfg *bootstrap.Config) { cfg.EventsPollInterval = time.Hour }))
	s := c.signup("Counted")
	id := c.createChat(s.access, "Counted").ID
	c.postMessage(s.access, id, "one")
	eventually(t, 10*time.Second, "the listener trusted", rev.Trusted)
	eventually(t, 10*time.Second, "the signup's events delivered", func() bool { return c.scrape().value("events_outbox_backlog") == 0 })

	for _, tc := range []struct {
		name        string
		path        string
		reads, not  string
		statements  int
		description string
	}{
		{"GET /me", base + "/me", "users", "chats", 1, "load the user"},
		{"GET /chats", chats, "chats", "users", 1, "one page of chats"},
		{"GET /chats/{id}", chats + "/" + id, "chats", "users", 1, "one chat"},
		{"GET /chats/{id}/messages", chats + "/" + id + "/messages", "messages", "users", 1, "one page of messages, ownership checked in the same statement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := statementsOf(t, c, func() { c.do(http.MethodGet, tc.path, nil, bearer(s.access)).wantStatus(t, http.StatusOK) })
			if len(got) != tc.statements {
				t.Fatalf("%s ran %d statements, want %d (%s): %q", tc.name, len(got), tc.statements, tc.description, got)
			}
			for _, q := range got {
				if !strings.Contains(q, tc.reads) || strings.Contains(q, `"`+tc.not+`"`) || regexp.MustCompile(`\b`+tc.not+`\b`).MatchString(q) {
					t.Errorf("%s statement %q: want it to read %s and never %s", tc.name, q, tc.reads, tc.not)
				}
			}
			t.Logf("%s: %q", tc.name, got)
		})
	}
}
