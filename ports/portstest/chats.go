package portstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// ChatSet is one implementation of the chat store ports over one backing
// store, with the two things of the user context that the chat tables refer
// to, which only the adapter's test can provide.
type ChatSet struct {
	Chats    chatports.Chats
	Messages chatports.Messages
	Tx       ports.Transactor
	// NewOwner stores a user and returns its id, for chats to belong to.
	NewOwner func(t *testing.T) uuid.UUID
	// DeleteOwner deletes that user as the user context does, so the suite
	// can see the cascade reach its chats and messages.
	DeleteOwner func(t *testing.T, owner uuid.UUID)
}

// Chats runs the contract of chatports.Chats and chatports.Messages against
// the implementation that fresh builds. fresh is called once per subtest and
// must return stores over a new, empty, migrated backing store, cleaned up
// with t.Cleanup; subtests run in parallel.
//
// The contract beyond the ports' doc comments, which every adapter keeps
// alike: a chat or message of another owner is chat.ErrNotFound, never a
// different error; pages are newest first by creation time, then id, and a
// walk with Next returns every item exactly once even while items are added;
// deleting an owner deletes its chats and their messages; times come back in
// UTC, equal to what was stored to the microsecond.
func Chats(t *testing.T, fresh func(t *testing.T) ChatSet) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s ChatSet)
	}{
		{"AddThenGet", testChatAddThenGet},
		{"AnotherOwnersChatIsNotFound", testChatOfAnotherOwner},
		{"AddForUnknownOwnerFails", testChatUnknownOwner},
		{"ListIsNewestFirstAndPagesEachChatOnce", testChatPages},
		{"PagesStayStableWhileChatsAreAdded", testChatPagesUnderInserts},
		{"UpdateStoresTheChange", testChatUpdate},
		{"FailedUpdateStoresNothing", testChatFailedUpdate},
		{"DeleteRemovesChatAndMessages", testChatDelete},
		{"MessagesGoOnlyToOwnChats", testMessageOwnChatOnly},
		{"MessagesPageNewestFirstEachOnce", testMessagePages},
		{"EmptyChatHasAnEmptyPage", testMessageEmptyChat},
		{"ConcurrentPostsAreAllKept", testMessageConcurrentPosts},
		{"MessagePagesStayStableWhilePosting", testMessagePagesUnderPosts},
		{"DeletingTheOwnerDeletesItsChats", testChatOwnerDeleted},
		{"TransactorRollsBackChatWrites", testChatTxRollsBack},
		{"TextsAndTimesRoundTrip", testChatRoundTrip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, fresh(t))
		})
	}
}

func newChatID() chat.ID { return chat.ID(uuid.Must(uuid.NewV7())) }

func title(t *testing.T, s string) chat.Title {
	t.Helper()
	v, err := chat.ParseTitle(s)
	if err != nil {
		t.Fatalf("ParseTitle(%q): %v", s, err)
	}
	return v
}

func body(t *testing.T, s string) chat.Body {
	t.Helper()
	v, err := chat.ParseBody(s)
	if err != nil {
		t.Fatalf("ParseBody(%q): %v", s, err)
	}
	return v
}

// addChat stores a chat of owner created at the given time.
func addChat(t *testing.T, s ChatSet, owner uuid.UUID, name string, at time.Time) *chat.Chat {
	t.Helper()
	c := chat.New(newChatID(), owner, title(t, name), at)
	if err := s.Chats.Add(t.Context(), c); err != nil {
		t.Fatalf("add chat %q: %v", name, err)
	}
	return c
}

// post stores a message of owner in chatID created at the given time.
func post(t *testing.T, s ChatSet, owner uuid.UUID, chatID chat.ID, text string, at time.Time) *chat.Message {
	t.Helper()
	m := chat.NewMessage(chat.MessageID(uuid.Must(uuid.NewV7())), chatID, owner, body(t, text), at)
	if err := s.Messages.Add(t.Context(), owner, m); err != nil {
		t.Fatalf("post %q: %v", text, err)
	}
	return m
}

func sameChat(a, b *chat.Chat) bool {
	return a.ID() == b.ID() && a.Owner() == b.Owner() && a.Title() == b.Title() &&
		a.CreatedAt().Equal(b.CreatedAt()) && a.UpdatedAt().Equal(b.UpdatedAt())
}

func testChatAddThenGet(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Trip to Lisbon", t0)
	got, err := s.Chats.Get(t.Context(), owner, c.ID())
	if err != nil || !sameChat(got, c) {
		t.Fatalf("Get = %v, %v; want the stored chat", got, err)
	}
	if _, err := s.Chats.Get(t.Context(), owner, newChatID()); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Get of an unknown id = %v, want ErrNotFound", err)
	}
}

func testChatOfAnotherOwner(t *testing.T, s ChatSet) {
	alice, mallory := s.NewOwner(t), s.NewOwner(t)
	c := addChat(t, s, alice, "Private", t0)
	ctx := t.Context()
	if _, err := s.Chats.Get(ctx, mallory, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Get by another owner = %v, want ErrNotFound", err)
	}
	_, err := s.Chats.Update(ctx, mallory, c.ID(), func(c *chat.Chat) error { c.Rename(title(t, "Mine now"), t0.Add(time.Hour)); return nil })
	if !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Update by another owner = %v, want ErrNotFound", err)
	}
	if err := s.Chats.Delete(ctx, mallory, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Delete by another owner = %v, want ErrNotFound", err)
	}
	m := chat.NewMessage(chat.MessageID(uuid.New()), c.ID(), mallory, body(t, "hi"), t0)
	if err := s.Messages.Add(ctx, mallory, m); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Messages.Add to another owner's chat = %v, want ErrNotFound", err)
	}
	if _, err := s.Messages.List(ctx, mallory, c.ID(), chat.PageRequest{Limit: 10}); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Messages.List of another owner's chat = %v, want ErrNotFound", err)
	}
	if page, err := s.Chats.List(ctx, mallory, chat.PageRequest{Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Errorf("another owner's list = %d chats, %v; want none", len(page.Items), err)
	}
	got, err := s.Chats.Get(ctx, alice, c.ID())
	if err != nil || !sameChat(got, c) {
		t.Errorf("the owner's chat changed: %v, %v", got, err)
	}
}

func testChatUnknownOwner(t *testing.T, s ChatSet) {
	c := chat.New(newChatID(), uuid.New(), title(t, "Orphan"), t0)
	if err := s.Chats.Add(t.Context(), c); !errors.Is(err, chat.ErrOwnerUnknown) {
		t.Fatalf("Add for an unknown owner = %v, want ErrOwnerUnknown", err)
	}
}

// walk pages through list with limit and returns every item's cursor.
func walk(t *testing.T, limit int, list func(chat.PageRequest) ([]chat.Cursor, *chat.Cursor, error)) []chat.Cursor {
	t.Helper()
	var out []chat.Cursor
	var after *chat.Cursor
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		items, next, err := list(chat.PageRequest{Limit: limit, After: after})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(items) > limit {
			t.Fatalf("page %d has %d items, limit %d", pages, len(items), limit)
		}
		out = append(out, items...)
		if next == nil {
			return out
		}
		if len(items) == 0 {
			t.Fatalf("page %d is empty but has a next cursor", pages)
		}
		if *next != items[len(items)-1] {
			t.Fatalf("page %d: next cursor %v is not its last item %v", pages, *next, items[len(items)-1])
		}
		after = next
	}
}

func chatCursors(s ChatSet, ctx context.Context, owner uuid.UUID) func(chat.PageRequest) ([]chat.Cursor, *chat.Cursor, error) {
	return func(r chat.PageRequest) ([]chat.Cursor, *chat.Cursor, error) {
		page, err := s.Chats.List(ctx, owner, r)
		var out []chat.Cursor
		for _, c := range page.Items {
			out = append(out, c.Position())
		}
		return out, page.Next, err
	}
}

func messageCursors(s ChatSet, ctx context.Context, owner uuid.UUID, id chat.ID) func(chat.PageRequest) ([]chat.Cursor, *chat.Cursor, error) {
	return func(r chat.PageRequest) ([]chat.Cursor, *chat.Cursor, error) {
		page, err := s.Messages.List(ctx, owner, id, r)
		var out []chat.Cursor
		for _, m := range page.Items {
			out = append(out, m.Position())
		}
		return out, page.Next, err
	}
}

// wantNewestFirstOnce fails unless got holds each of want exactly once,
// newest first (by time, then id, both descending).
func wantNewestFirstOnce(t *testing.T, got []chat.Cursor, want map[chat.Cursor]bool) {
	t.Helper()
	seen := map[chat.Cursor]bool{}
	for i, c := range got {
		if seen[c] {
			t.Fatalf("item %v returned twice", c)
		}
		seen[c] = true
		if i > 0 {
			prev := got[i-1]
			if c.At.After(prev.At) || (c.At.Equal(prev.At) && c.ID.String() > prev.ID.String()) {
				t.Fatalf("items %d and %d are not newest first: %v then %v", i-1, i, prev, c)
			}
		}
	}
	for c := range want {
		if !seen[c] {
			t.Fatalf("item %v never returned (got %d items, want %d)", c, len(got), len(want))
		}
	}
}

func testChatPages(t *testing.T, s ChatSet) {
	owner, other := s.NewOwner(t), s.NewOwner(t)
	want := map[chat.Cursor]bool{}
	for i := range 11 {
		// Pairs share a creation time, so the id breaks the tie.
		c := addChat(t, s, owner, fmt.Sprintf("Chat %d", i), t0.Add(time.Duration(i/2)*time.Minute))
		want[c.Position()] = true
	}
	addChat(t, s, other, "Not mine", t0.Add(time.Hour))
	for _, limit := range []int{1, 3, 11, 50} {
		got := walk(t, limit, chatCursors(s, t.Context(), owner))
		if len(got) != 11 {
			t.Fatalf("limit %d: walked %d chats, want 11", limit, len(got))
		}
		wantNewestFirstOnce(t, got, want)
	}
}

func testChatPagesUnderInserts(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	want := map[chat.Cursor]bool{}
	for i := range 30 {
		want[addChat(t, s, owner, fmt.Sprintf("Old %d", i), t0.Add(time.Duration(i)*time.Second)).Position()] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := chat.New(newChatID(), owner, title(t, fmt.Sprintf("New %d-%d", w, i)), t0.Add(time.Hour+time.Duration(i)*time.Millisecond))
				if err := s.Chats.Add(context.Background(), c); err != nil {
					t.Errorf("concurrent add: %v", err)
					return
				}
			}
		})
	}
	got := walk(t, 4, chatCursors(s, t.Context(), owner))
	close(stop)
	wg.Wait()
	old := got[:0:0]
	for _, c := range got {
		if c.At.Before(t0.Add(time.Hour)) {
			old = append(old, c)
		}
	}
	wantNewestFirstOnce(t, got, nil)
	if len(old) != 30 {
		t.Fatalf("the walk returned %d of the 30 chats that existed before it", len(old))
	}
	wantNewestFirstOnce(t, old, want)
}

func testChatUpdate(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Before", t0)
	got, err := s.Chats.Update(t.Context(), owner, c.ID(), func(c *chat.Chat) error {
		c.Rename(title(t, "After"), t0.Add(time.Minute))
		return nil
	})
	if err != nil || got.Title().String() != "After" || !got.UpdatedAt().Equal(t0.Add(time.Minute)) || !got.CreatedAt().Equal(t0) {
		t.Fatalf("Update = %v, %v", got, err)
	}
	stored, err := s.Chats.Get(t.Context(), owner, c.ID())
	if err != nil || !sameChat(stored, got) {
		t.Fatalf("stored %v, %v; want what Update returned", stored, err)
	}
}

func testChatFailedUpdate(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Before", t0)
	_, err := s.Chats.Update(t.Context(), owner, c.ID(), func(c *chat.Chat) error {
		c.Rename(title(t, "After"), t0.Add(time.Minute))
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want the change's error", err)
	}
	stored, _ := s.Chats.Get(t.Context(), owner, c.ID())
	if !sameChat(stored, c) {
		t.Fatalf("a failed change was stored: %v", stored)
	}
}

func testChatDelete(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Doomed", t0)
	keep := addChat(t, s, owner, "Kept", t0)
	post(t, s, owner, c.ID(), "bye", t0)
	kept := post(t, s, owner, keep.ID(), "still here", t0)
	if err := s.Chats.Delete(t.Context(), owner, c.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Chats.Get(t.Context(), owner, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if _, err := s.Messages.List(t.Context(), owner, c.ID(), chat.PageRequest{Limit: 10}); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("messages of a deleted chat = %v, want ErrNotFound", err)
	}
	if err := s.Chats.Delete(t.Context(), owner, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	page, err := s.Messages.List(t.Context(), owner, keep.ID(), chat.PageRequest{Limit: 10})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID() != kept.ID() {
		t.Errorf("the other chat's messages: %v, %v", page.Items, err)
	}
}

func testMessageOwnChatOnly(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	m := chat.NewMessage(chat.MessageID(uuid.New()), newChatID(), owner, body(t, "into the void"), t0)
	if err := s.Messages.Add(t.Context(), owner, m); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Add to a missing chat = %v, want ErrNotFound", err)
	}
	if _, err := s.Messages.List(t.Context(), owner, newChatID(), chat.PageRequest{Limit: 10}); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("List of a missing chat = %v, want ErrNotFound", err)
	}
}

func testMessagePages(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Busy", t0)
	other := addChat(t, s, owner, "Quiet", t0)
	want := map[chat.Cursor]bool{}
	for i := range 9 {
		want[post(t, s, owner, c.ID(), fmt.Sprintf("message %d", i), t0.Add(time.Duration(i/3)*time.Second)).Position()] = true
	}
	post(t, s, owner, other.ID(), "elsewhere", t0.Add(time.Hour))
	for _, limit := range []int{1, 2, 9, 100} {
		got := walk(t, limit, messageCursors(s, t.Context(), owner, c.ID()))
		if len(got) != 9 {
			t.Fatalf("limit %d: walked %d messages, want 9", limit, len(got))
		}
		wantNewestFirstOnce(t, got, want)
	}
	page, _ := s.Messages.List(t.Context(), owner, c.ID(), chat.PageRequest{Limit: 1})
	if m := page.Items[0]; m.Chat() != c.ID() || m.Author() != owner {
		t.Fatalf("message fields: chat %v author %v", m.Chat(), m.Author())
	}
}

func testMessageEmptyChat(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Silent", t0)
	page, err := s.Messages.List(t.Context(), owner, c.ID(), chat.PageRequest{Limit: 10})
	if err != nil || len(page.Items) != 0 || page.Next != nil {
		t.Fatalf("empty chat: %d items, next %v, %v", len(page.Items), page.Next, err)
	}
}

func testMessageConcurrentPosts(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Crowded", t0)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := chat.NewMessage(chat.MessageID(uuid.Must(uuid.NewV7())), c.ID(), owner, body(t, fmt.Sprintf("post %d", i)), t0.Add(time.Duration(i%5)*time.Millisecond))
			if err := s.Messages.Add(context.Background(), owner, m); err != nil {
				t.Errorf("post %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := walk(t, 7, messageCursors(s, t.Context(), owner, c.ID())); len(got) != n {
		t.Fatalf("%d of %d concurrent posts kept", len(got), n)
	}
}

func testMessagePagesUnderPosts(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := addChat(t, s, owner, "Live", t0)
	want := map[chat.Cursor]bool{}
	for i := range 25 {
		want[post(t, s, owner, c.ID(), fmt.Sprintf("old %d", i), t0.Add(time.Duration(i)*time.Second)).Position()] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := chat.NewMessage(chat.MessageID(uuid.Must(uuid.NewV7())), c.ID(), owner, body(t, fmt.Sprintf("new %d-%d", w, i)), t0.Add(time.Hour+time.Duration(i)*time.Millisecond))
				if err := s.Messages.Add(context.Background(), owner, m); err != nil {
					t.Errorf("concurrent post: %v", err)
					return
				}
			}
		})
	}
	got := walk(t, 4, messageCursors(s, t.Context(), owner, c.ID()))
	close(stop)
	wg.Wait()
	wantNewestFirstOnce(t, got, nil)
	var old []chat.Cursor
	for _, m := range got {
		if m.At.Before(t0.Add(time.Hour)) {
			old = append(old, m)
		}
	}
	if len(old) != 25 {
		t.Fatalf("the walk returned %d of the 25 messages that existed before it", len(old))
	}
	wantNewestFirstOnce(t, old, want)
}

func testChatOwnerDeleted(t *testing.T, s ChatSet) {
	owner, other := s.NewOwner(t), s.NewOwner(t)
	c := addChat(t, s, owner, "Gone soon", t0)
	post(t, s, owner, c.ID(), "last words", t0)
	kept := addChat(t, s, other, "Stays", t0)
	s.DeleteOwner(t, owner)
	if _, err := s.Chats.Get(t.Context(), owner, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("the deleted owner's chat: %v, want ErrNotFound", err)
	}
	if page, err := s.Chats.List(t.Context(), owner, chat.PageRequest{Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Errorf("the deleted owner still lists %d chats (%v)", len(page.Items), err)
	}
	if _, err := s.Chats.Get(t.Context(), other, kept.ID()); err != nil {
		t.Errorf("another owner's chat went too: %v", err)
	}
}

func testChatTxRollsBack(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	c := chat.New(newChatID(), owner, title(t, "Never"), t0)
	err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := s.Chats.Add(ctx, c); err != nil {
			return err
		}
		m := chat.NewMessage(chat.MessageID(uuid.New()), c.ID(), owner, body(t, "never"), t0)
		if err := s.Messages.Add(ctx, owner, m); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Atomically = %v, want errBoom", err)
	}
	if _, err := s.Chats.Get(t.Context(), owner, c.ID()); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("a rolled-back chat was stored: %v", err)
	}
}

func testChatRoundTrip(t *testing.T, s ChatSet) {
	owner := s.NewOwner(t)
	at := time.Date(2026, 12, 2, 9, 45, 1, 123456789, time.FixedZone("CET", 3600))
	c := addChat(t, s, owner, "Ünïcødé — 旅行 🚀", at)
	got, err := s.Chats.Get(t.Context(), owner, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Title().String() != "Ünïcødé — 旅行 🚀" || got.CreatedAt().Location() != time.UTC || !got.CreatedAt().Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("chat round trip: %q %v", got.Title(), got.CreatedAt())
	}
	text := "line one\n\tline two — ✓"
	post(t, s, owner, c.ID(), text, at)
	page, err := s.Messages.List(t.Context(), owner, c.ID(), chat.PageRequest{Limit: 1})
	if err != nil || len(page.Items) != 1 {
		t.Fatal(err)
	}
	m := page.Items[0]
	if m.Body().String() != text || m.CreatedAt().Location() != time.UTC || !m.CreatedAt().Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("message round trip: %q %v", m.Body(), m.CreatedAt())
	}
}
