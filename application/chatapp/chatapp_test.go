package chatapp_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/clock"
	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/application/chatapp"
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is the chat use cases on memory stores, with users to own chats.
type world struct {
	clock *manualClock
	uc    *chatapp.UseCases
	users *memory.Users
	ctx   context.Context
}

func newWorld(t *testing.T) *world {
	db := memory.NewDB()
	store := memory.NewChatStore(db)
	clk := &manualClock{now: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	return &world{
		clock: clk,
		uc:    chatapp.NewUseCases(chatapp.Deps{Chats: store.Chats(), Messages: store.Messages(), Clock: clk, IDs: clock.UUIDv7{}}),
		users: memory.NewUserStore(db).Users(),
		ctx:   t.Context(),
	}
}

// signedIn stores a user and returns the principal of one of its sessions.
func (w *world) signedIn(t *testing.T) ports.Principal {
	t.Helper()
	name, _ := user.ParseUsername("u" + uuid.NewString()[:8])
	u := user.New(user.ID(uuid.New()), name, user.NewPasswordHash("h"), user.FullName{}, w.clock.Now())
	if err := w.users.Add(w.ctx, u); err != nil {
		t.Fatal(err)
	}
	return ports.Principal{UserID: uuid.UUID(u.ID()), SessionID: uuid.New()}
}

func mustTitle(t *testing.T, s string) chat.Title {
	t.Helper()
	v, err := chat.ParseTitle(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustBody(t *testing.T, s string) chat.Body {
	t.Helper()
	v, err := chat.ParseBody(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAChatLivesAndDiesWithItsOwnerOnly(t *testing.T) {
	w := newWorld(t)
	alice, mallory := w.signedIn(t), w.signedIn(t)
	c, err := w.uc.CreateChat.Do(w.ctx, alice, mustTitle(t, "Trip to Lisbon"))
	if err != nil || c.Owner() != alice.UserID || !c.CreatedAt().Equal(w.clock.Now()) {
		t.Fatalf("create: %v %v", c, err)
	}
	w.clock.Advance(time.Minute)
	renamed, err := w.uc.RenameChat.Do(w.ctx, alice, c.ID(), mustTitle(t, "Trip to Porto"))
	if err != nil || renamed.Title().String() != "Trip to Porto" || !renamed.UpdatedAt().Equal(w.clock.Now()) {
		t.Fatalf("rename: %v %v", renamed, err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := w.uc.GetChat.Do(w.ctx, mallory, c.ID()); return err }(),
		"rename": func() error { _, err := w.uc.RenameChat.Do(w.ctx, mallory, c.ID(), mustTitle(t, "x")); return err }(),
		"delete": w.uc.DeleteChat.Do(w.ctx, mallory, c.ID()),
		"post":   func() error { _, err := w.uc.PostMessage.Do(w.ctx, mallory, c.ID(), mustBody(t, "x")); return err }(),
		"list":   func() error { _, err := w.uc.ListMessages.Do(w.ctx, mallory, c.ID(), chat.PageRequest{}); return err }(),
	} {
		if !errors.Is(err, chat.ErrNotFound) {
			t.Errorf("%s by another user = %v, want chat.ErrNotFound", name, err)
		}
	}
	if err := w.uc.DeleteChat.Do(w.ctx, alice, c.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.uc.GetChat.Do(w.ctx, alice, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestMessagesArePostedByTheCallerAndListedNewestFirst(t *testing.T) {
	w := newWorld(t)
	me := w.signedIn(t)
	c, _ := w.uc.CreateChat.Do(w.ctx, me, mustTitle(t, "Notes"))
	for _, text := range []string{"first", "second", "third"} {
		w.clock.Advance(time.Second)
		m, err := w.uc.PostMessage.Do(w.ctx, me, c.ID(), mustBody(t, text))
		if err != nil || m.Author() != me.UserID || m.Chat() != c.ID() {
			t.Fatalf("post %q: %v %v", text, m, err)
		}
	}
	page, err := w.uc.ListMessages.Do(w.ctx, me, c.ID(), chat.PageRequest{Limit: 2})
	if err != nil || len(page.Items) != 2 || page.Items[0].Body().String() != "third" || page.Next == nil {
		t.Fatalf("first page: %v %v", page, err)
	}
	rest, err := w.uc.ListMessages.Do(w.ctx, me, c.ID(), chat.PageRequest{Limit: 2, After: page.Next})
	if err != nil || len(rest.Items) != 1 || rest.Items[0].Body().String() != "first" || rest.Next != nil {
		t.Fatalf("last page: %v %v", rest, err)
	}
}

func TestAZeroLimitMeansTheDefault(t *testing.T) {
	w := newWorld(t)
	me := w.signedIn(t)
	for range chat.DefaultLimit + 1 {
		w.clock.Advance(time.Millisecond)
		if _, err := w.uc.CreateChat.Do(w.ctx, me, mustTitle(t, "c")); err != nil {
			t.Fatal(err)
		}
	}
	page, err := w.uc.ListChats.Do(w.ctx, me, chat.PageRequest{})
	if err != nil || len(page.Items) != chat.DefaultLimit || page.Next == nil {
		t.Fatalf("default page: %d items, next %v, %v", len(page.Items), page.Next, err)
	}
}

func TestCreatingAChatForADeletedAccountFails(t *testing.T) {
	w := newWorld(t)
	me := w.signedIn(t)
	if err := w.users.Delete(w.ctx, user.ID(me.UserID)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.uc.CreateChat.Do(w.ctx, me, mustTitle(t, "Too late")); !errors.Is(err, chat.ErrOwnerUnknown) {
		t.Fatalf("create after deletion = %v, want ErrOwnerUnknown", err)
	}
}
