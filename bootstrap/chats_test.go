package bootstrap_test

// The chat context end to end, through the real fx app on PostgreSQL and
// SQLite: every chat route as the contract says, ownership (another user's
// chat does not exist), the field and query rules, keyset pages, revocation
// on chat routes, and the account's chats going with the account.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

const chats = "/api/v1/chats"

// chatRead is the contract's ChatRead.
type chatRead struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// messageRead is the contract's MessageRead.
type messageRead struct {
	ID        string `json:"id"`
	ChatID    string `json:"chat_id"`
	AuthorID  string `json:"author_id"`
	Body      string `json:"body"`
	CreatedAt string `json:"created_at"`
}

// page is a list route's answer.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// rfc3339 parses a timestamp of an answer.
func rfc3339(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return at
}

// decodeStrict decodes r's body into v, failing on unknown fields.
func decodeStrict(t testing.TB, r *response, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body: %v\n%s", err, r.Body)
	}
}

// createChat starts a chat with title and fails unless it gets 201.
func (c *client) createChat(access, title string) chatRead {
	c.t.Helper()
	r := c.do(http.MethodPost, chats, map[string]string{"title": title}, bearer(access))
	r.wantStatus(c.t, http.StatusCreated)
	var got chatRead
	decodeStrict(c.t, r, &got)
	if loc := r.Header.Get("Location"); loc != chats+"/"+got.ID {
		c.t.Errorf("Location %q, want %s/%s", loc, chats, got.ID)
	}
	return got
}

// postMessage posts body to chat id and fails unless it gets 201.
func (c *client) postMessage(access, id, body string) messageRead {
	c.t.Helper()
	r := c.do(http.MethodPost, chats+"/"+id+"/messages", map[string]string{"body": body}, bearer(access))
	r.wantStatus(c.t, http.StatusCreated)
	var got messageRead
	decodeStrict(c.t, r, &got)
	return got
}

// walk follows next_cursor from path with limit and returns every item.
func walk[T any](c *client, access, path string, limit int) []T {
	c.t.Helper()
	var all []T
	cursor := ""
	for range 1000 {
		q := fmt.Sprintf("%s?limit=%d", path, limit)
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := c.do(http.MethodGet, q, nil, bearer(access))
		r.wantStatus(c.t, http.StatusOK)
		var p page[T]
		decodeStrict(c.t, r, &p)
		if len(p.Items) > limit {
			c.t.Fatalf("page of %d items with limit %d", len(p.Items), limit)
		}
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		cursor = *p.NextCursor
	}
	c.t.Fatal("pagination does not end")
	return nil
}

func TestChatRoutesWorkAsTheContractSays(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		me := c.signup("Chatter")
		owner := c.me(me.access).ID

		created := c.createChat(me.access, "Trip to Lisbon")
		if created.Title != "Trip to Lisbon" || created.CreatedAt != created.UpdatedAt {
			t.Fatalf("created %+v", created)
		}
		var got chatRead
		r := c.do(http.MethodGet, chats+"/"+created.ID, nil, bearer(me.access))
		r.wantStatus(t, http.StatusOK)
		decodeStrict(t, r, &got)
		if got != created {
			t.Fatalf("GET %+v, want %+v", got, created)
		}

		r = c.do(http.MethodPatch, chats+"/"+created.ID, map[string]string{"title": "Trip to Porto"}, bearer(me.access))
		r.wantStatus(t, http.StatusOK)
		var renamed chatRead
		decodeStrict(t, r, &renamed)
		if renamed.Title != "Trip to Porto" || renamed.CreatedAt != created.CreatedAt || rfc3339(t, renamed.UpdatedAt).Before(rfc3339(t, created.UpdatedAt)) {
			t.Fatalf("renamed %+v from %+v", renamed, created)
		}

		m := c.postMessage(me.access, created.ID, "Hello\n\twith a tab")
		if m.ChatID != created.ID || m.AuthorID != owner || m.Body != "Hello\n\twith a tab" {
			t.Fatalf("message %+v", m)
		}
		msgs := walk[messageRead](c, me.access, chats+"/"+created.ID+"/messages", 50)
		if len(msgs) != 1 || msgs[0] != m {
			t.Fatalf("messages %+v", msgs)
		}
		list := walk[chatRead](c, me.access, chats, 50)
		if len(list) != 1 || list[0] != renamed {
			t.Fatalf("list %+v", list)
		}

		r = c.do(http.MethodGet, chats, nil, bearer(me.access))
		var p page[chatRead]
		decodeStrict(t, r, &p)
		if p.NextCursor != nil || !strings.Contains(string(r.Body), `"next_cursor":null`) {
			t.Errorf("the last page's next_cursor must be null: %s", r.Body)
		}

		c.do(http.MethodDelete, chats+"/"+created.ID, nil, bearer(me.access)).wantStatus(t, http.StatusNoContent)
		c.do(http.MethodGet, chats+"/"+created.ID, nil, bearer(me.access)).wantProblem(t, http.StatusNotFound)
		c.do(http.MethodGet, chats+"/"+created.ID+"/messages", nil, bearer(me.access)).wantProblem(t, http.StatusNotFound)
		r = c.do(http.MethodGet, chats, nil, bearer(me.access))
		decodeStrict(t, r, &p)
		if len(p.Items) != 0 || !strings.Contains(string(r.Body), `"items":[]`) {
			t.Errorf("an empty list must be [] : %s", r.Body)
		}
	})
}

func TestAnotherUsersChatDoesNotExist(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		alice, mallory := c.signup("Alice"), c.signup("Mallory")
		theirs := c.createChat(alice.access, "Private")
		c.postMessage(alice.access, theirs.ID, "secret")
		for _, id := range []string{theirs.ID, uuid.NewString(), "not-a-uuid", strings.ToUpper(uuid.NewString())[:35]} {
			valid := id == theirs.ID || len(id) == 36
			opts := []reqOpt{bearer(mallory.access)}
			if !valid {
				opts = append(opts, malformed())
			}
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, chats + "/" + id, nil},
				{http.MethodPatch, chats + "/" + id, map[string]string{"title": "Mine now"}},
				{http.MethodDelete, chats + "/" + id, nil},
				{http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": "hi"}},
				{http.MethodGet, chats + "/" + id + "/messages", nil},
			} {
				p := c.do(req.method, req.path, req.body, opts...).wantProblem(t, http.StatusNotFound)
				if p.Detail != "chat not found" {
					t.Errorf("%s %s: detail %q", req.method, req.path, p.Detail)
				}
			}
		}
		if got := walk[chatRead](c, mallory.access, chats, 10); len(got) != 0 {
			t.Errorf("mallory lists %d chats", len(got))
		}
		if msgs := walk[messageRead](c, alice.access, chats+"/"+theirs.ID+"/messages", 10); len(msgs) != 1 || msgs[0].Body != "secret" {
			t.Errorf("alice's chat changed: %+v", msgs)
		}
	})
}

func TestChatFieldAndQueryRulesAre422(t *testing.T) {
	c := newApp(t, onDatabase(sqliteDB))
	me := c.signup("Ruler")
	id := c.createChat(me.access, "Rules").ID
	for _, tc := range []struct {
		name, method, path string
		body               any
		fields             []string
	}{
		{"empty title", http.MethodPost, chats, map[string]string{"title": ""}, []string{"title"}},
		{"long title", http.MethodPost, chats, map[string]string{"title": strings.Repeat("x", 101)}, []string{"title"}},
		{"title with leading space", http.MethodPost, chats, map[string]string{"title": " Lisbon"}, []string{"title"}},
		{"title with a control character", http.MethodPatch, chats + "/" + id, map[string]string{"title": "bell\a"}, []string{"title"}},
		{"missing title", http.MethodPost, chats, map[string]string{}, []string{"title"}},
		{"null title", http.MethodPatch, chats + "/" + id, map[string]any{"title": nil}, []string{"title"}},
		{"unknown field", http.MethodPost, chats, map[string]string{"title": "ok", "owner_id": uuid.NewString()}, []string{"owner_id"}},
		{"blank body", http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": " \n\t "}, []string{"body"}},
		{"long body", http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": strings.Repeat("b", 4001)}, []string{"body"}},
		{"carriage return", http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": "a\rb"}, []string{"body"}},
		{"every field at once", http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": "", "author_id": "x"}, []string{"author_id", "body"}},
		{"limit 0", http.MethodGet, chats + "?limit=0", nil, []string{"limit"}},
		{"limit 101", http.MethodGet, chats + "?limit=101", nil, []string{"limit"}},
		{"limit text", http.MethodGet, chats + "/" + id + "/messages?limit=ten", nil, []string{"limit"}},
		{"empty limit", http.MethodGet, chats + "?limit=", nil, []string{"limit"}},
		{"forged cursor", http.MethodGet, chats + "?cursor=AAAA", nil, []string{"cursor"}},
		{"both at once", http.MethodGet, chats + "/" + id + "/messages?limit=-1&cursor=%21", nil, []string{"limit", "cursor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := c.with(t).do(tc.method, tc.path, tc.body, bearer(me.access), malformed()).wantProblem(t, http.StatusUnprocessableEntity)
			if got := strings.Join(p.fields(), ","); got != strings.Join(tc.fields, ",") {
				t.Errorf("fields %q, want %q", got, tc.fields)
			}
		})
	}
	c.do(http.MethodPost, chats, "not json", bearer(me.access), malformed()).wantProblem(t, http.StatusBadRequest)
	c.do(http.MethodPost, chats, `{"title":"x"}`, bearer(me.access), contentType("text/plain"), malformed()).wantProblem(t, http.StatusUnsupportedMediaType)
	c.do(http.MethodPost, chats, `{"title":"`+strings.Repeat("x", 70<<10)+`"}`, bearer(me.access), malformed()).wantProblem(t, http.StatusRequestEntityTooLarge)
	if got := walk[chatRead](c, me.access, chats, 10); len(got) != 1 {
		t.Fatalf("refused requests stored chats: %d", len(got))
	}
}

func TestChatPagesReturnEachChatOnceNewestFirst(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		me := c.signup("Pager")
		var want []string
		for i := range 7 {
			want = append(want, c.createChat(me.access, fmt.Sprintf("Chat %d", i)).ID)
		}
		for _, limit := range []int{1, 3, 7, 100} {
			got := walk[chatRead](c, me.access, chats, limit)
			if len(got) != len(want) {
				t.Fatalf("limit %d: %d chats, want %d", limit, len(got), len(want))
			}
			for i, ch := range got { // newest first: the reverse of creation
				if ch.ID != want[len(want)-1-i] {
					t.Fatalf("limit %d: item %d is %s, want %s", limit, i, ch.ID, want[len(want)-1-i])
				}
			}
		}
		id := want[0]
		for i := range 5 {
			c.postMessage(me.access, id, fmt.Sprintf("message %d", i))
		}
		msgs := walk[messageRead](c, me.access, chats+"/"+id+"/messages", 2)
		if len(msgs) != 5 || msgs[0].Body != "message 4" || msgs[4].Body != "message 0" {
			t.Fatalf("messages %+v", msgs)
		}
	})
}

func TestRevokedSessionIsRefusedOnChatRoutesAtOnce(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		c := newApp(t, db)
		s := c.signup("Leaver")
		id := c.createChat(s.access, "Soon gone").ID
		c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantStatus(t, http.StatusNoContent)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, chats, nil},
			{http.MethodPost, chats, map[string]string{"title": "after logout"}},
			{http.MethodGet, chats + "/" + id, nil},
			{http.MethodPatch, chats + "/" + id, map[string]string{"title": "x"}},
			{http.MethodDelete, chats + "/" + id, nil},
			{http.MethodPost, chats + "/" + id + "/messages", map[string]string{"body": "x"}},
			{http.MethodGet, chats + "/" + id + "/messages", nil},
		} {
			r := c.do(req.method, req.path, req.body, bearer(s.access))
			r.wantProblem(t, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: WWW-Authenticate %q", req.method, req.path, r.Header.Get("WWW-Authenticate"))
			}
		}
		c.wantAccessRefused(s.access)
	})
}

func TestDeletingTheAccountDeletesItsChatsAndMessages(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		var gdb *gorm.DB
		c := newApp(t, db, withFx(fx.Populate(&gdb)))
		gone, stays := c.signup("Goner"), c.signup("Stayer")
		goneID := c.me(gone.access).ID
		for i := range 3 {
			id := c.createChat(gone.access, fmt.Sprintf("Chat %d", i)).ID
			c.postMessage(gone.access, id, "bye")
		}
		kept := c.createChat(stays.access, "Kept").ID
		c.postMessage(stays.access, kept, "still here")

		c.do(http.MethodDelete, base, nil, bearer(gone.access)).wantStatus(t, http.StatusNoContent)
		count := func(table, column, id string) int64 {
			var n int64
			if err := gdb.Table(table).Where(column+" = ?", id).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("chats", "owner_id", goneID); n != 0 {
			t.Errorf("%d chats of the deleted account remain", n)
		}
		if n := count("messages", "author_id", goneID); n != 0 {
			t.Errorf("%d messages of the deleted account remain", n)
		}
		if got := walk[messageRead](c, stays.access, chats+"/"+kept+"/messages", 10); len(got) != 1 {
			t.Errorf("another user's chat lost its messages: %+v", got)
		}
		r := c.do(http.MethodGet, chats, nil, bearer(gone.access))
		r.wantProblem(t, http.StatusUnauthorized)
	})
}

func TestChatWritesAreLimitedPerUser(t *testing.T) {
	c := newApp(t, onDatabase(sqliteDB), withConfig(func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.LimitChatWrites = ports.Limit{Events: 3, Window: time.Minute}
	}))
	me, other := c.signup("Spammer"), c.signup("Patient")
	id := c.createChat(me.access, "One").ID
	c.postMessage(me.access, id, "two")
	c.postMessage(me.access, id, "three")
	r := c.do(http.MethodPost, chats+"/"+id+"/messages", map[string]string{"body": "four"}, bearer(me.access))
	r.wantProblem(t, http.StatusTooManyRequests)
	c.do(http.MethodPost, chats, map[string]string{"title": "five"}, bearer(me.access)).wantProblem(t, http.StatusTooManyRequests)
	c.createChat(other.access, "Another user's budget is their own")
	walk[chatRead](c, me.access, chats, 10) // reads are not limited
}
