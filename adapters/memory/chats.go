package memory

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports/chatports"
)

// ChatStore holds the chat context's tables, chats and messages, on a DB.
// Like the SQL schema, a chat refers to its owner in the "users" table and
// goes with it, and messages go with their chat. Its Chats and Messages are
// safe for concurrent use.
type ChatStore struct {
	db *DB
	st chatState
}

// chatState is the chat context's state; its values hold no pointers.
type chatState struct {
	chats    map[chat.ID]chatRec
	messages map[chat.MessageID]messageRec
}

type chatRec struct {
	id               chat.ID
	owner            uuid.UUID
	title            chat.Title
	created, updated time.Time
}

func (r chatRec) toChat() *chat.Chat {
	return chat.Restore(r.id, r.owner, r.title, r.created, r.updated)
}

type messageRec struct {
	id      chat.MessageID
	chat    chat.ID
	author  uuid.UUID
	body    chat.Body
	created time.Time
}

func (r messageRec) toMessage() *chat.Message {
	return chat.RestoreMessage(r.id, r.chat, r.author, r.body, r.created)
}

func (s *ChatStore) snapshot() (restore func()) {
	saved := chatState{chats: maps.Clone(s.st.chats), messages: maps.Clone(s.st.messages)}
	return func() { s.st = saved }
}

// NewChatStore adds the chat context's tables to db.
func NewChatStore(db *DB) *ChatStore {
	s := &ChatStore{db: db, st: chatState{chats: map[chat.ID]chatRec{}, messages: map[chat.MessageID]messageRec{}}}
	db.define(s, map[string]func(uuid.UUID) bool{
		"chats": func(key uuid.UUID) bool { _, ok := s.st.chats[chat.ID(key)]; return ok },
	})
	db.references("users", func(owner uuid.UUID) {
		for id, c := range s.st.chats {
			if c.owner == owner {
				s.deleteChat(id)
			}
		}
	})
	db.references("chats", func(key uuid.UUID) {
		maps.DeleteFunc(s.st.messages, func(_ chat.MessageID, m messageRec) bool { return m.chat == chat.ID(key) })
	})
	return s
}

// deleteChat removes a chat and runs its cascades; the lock is held.
func (s *ChatStore) deleteChat(id chat.ID) {
	delete(s.st.chats, id)
	s.db.deleted("chats", uuid.UUID(id))
}

// Chats returns the store's chatports.Chats.
func (s *ChatStore) Chats() *Chats { return &Chats{s: s} }

// Messages returns the store's chatports.Messages.
func (s *ChatStore) Messages() *Messages { return &Messages{s: s} }

// Chats keeps chats with the semantics of chatports.Chats.
type Chats struct{ s *ChatStore }

var _ chatports.Chats = (*Chats)(nil)

// Add stores a copy of c, or fails with chat.ErrOwnerUnknown when its owner
// is not in the users table.
func (r *Chats) Add(ctx context.Context, c *chat.Chat) error {
	defer r.s.db.lock(ctx)()
	if !r.s.db.exists("users", c.Owner()) {
		return chat.ErrOwnerUnknown
	}
	if _, dup := r.s.st.chats[c.ID()]; dup {
		return errors.New("memory: chat id already exists")
	}
	r.s.st.chats[c.ID()] = chatRec{id: c.ID(), owner: c.Owner(), title: c.Title(), created: norm(c.CreatedAt()), updated: norm(c.UpdatedAt())}
	return nil
}

// Get returns a copy of the owner's chat id, or chat.ErrNotFound.
func (r *Chats) Get(ctx context.Context, owner uuid.UUID, id chat.ID) (*chat.Chat, error) {
	defer r.s.db.lock(ctx)()
	c, ok := r.s.st.chats[id]
	if !ok || c.owner != owner {
		return nil, chat.ErrNotFound
	}
	return c.toChat(), nil
}

// List returns a page of the owner's chats, newest first.
func (r *Chats) List(ctx context.Context, owner uuid.UUID, page chat.PageRequest) (chat.Page[*chat.Chat], error) {
	defer r.s.db.lock(ctx)()
	var mine []*chat.Chat
	for _, c := range r.s.st.chats {
		if c.owner == owner {
			mine = append(mine, c.toChat())
		}
	}
	return pageOf(mine, (*chat.Chat).Position, page), nil
}

// Update applies change to a copy of the owner's chat id and stores it only
// if change succeeds; it returns the chat as stored.
func (r *Chats) Update(ctx context.Context, owner uuid.UUID, id chat.ID, change func(*chat.Chat) error) (*chat.Chat, error) {
	defer r.s.db.lock(ctx)()
	rec, ok := r.s.st.chats[id]
	if !ok || rec.owner != owner {
		return nil, chat.ErrNotFound
	}
	c := rec.toChat()
	if err := change(c); err != nil {
		return nil, err
	}
	rec.title, rec.updated = c.Title(), norm(c.UpdatedAt())
	r.s.st.chats[id] = rec
	return rec.toChat(), nil
}

// Delete removes the owner's chat id and its messages, or fails with
// chat.ErrNotFound.
func (r *Chats) Delete(ctx context.Context, owner uuid.UUID, id chat.ID) error {
	defer r.s.db.lock(ctx)()
	rec, ok := r.s.st.chats[id]
	if !ok || rec.owner != owner {
		return chat.ErrNotFound
	}
	r.s.deleteChat(id)
	return nil
}

// Messages keeps messages with the semantics of chatports.Messages.
type Messages struct{ s *ChatStore }

var _ chatports.Messages = (*Messages)(nil)

// Add stores a copy of m if its chat belongs to owner, else fails with
// chat.ErrNotFound.
func (r *Messages) Add(ctx context.Context, owner uuid.UUID, m *chat.Message) error {
	defer r.s.db.lock(ctx)()
	c, ok := r.s.st.chats[m.Chat()]
	if !ok || c.owner != owner {
		return chat.ErrNotFound
	}
	if _, dup := r.s.st.messages[m.ID()]; dup {
		return errors.New("memory: message id already exists")
	}
	r.s.st.messages[m.ID()] = messageRec{id: m.ID(), chat: m.Chat(), author: m.Author(), body: m.Body(), created: norm(m.CreatedAt())}
	return nil
}

// List returns a page of the messages of the owner's chat, newest first.
func (r *Messages) List(ctx context.Context, owner uuid.UUID, chatID chat.ID, page chat.PageRequest) (chat.Page[*chat.Message], error) {
	defer r.s.db.lock(ctx)()
	c, ok := r.s.st.chats[chatID]
	if !ok || c.owner != owner {
		return chat.Page[*chat.Message]{}, chat.ErrNotFound
	}
	var in []*chat.Message
	for _, m := range r.s.st.messages {
		if m.chat == chatID {
			in = append(in, m.toMessage())
		}
	}
	return pageOf(in, (*chat.Message).Position, page), nil
}

// pageOf sorts items newest first and cuts the page after page.After, as
// the SQL stores' keyset queries do.
func pageOf[T any](items []T, pos func(T) chat.Cursor, page chat.PageRequest) chat.Page[T] {
	newestFirst := func(a, b chat.Cursor) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID.String(), a.ID.String())
	}
	slices.SortFunc(items, func(a, b T) int { return newestFirst(pos(a), pos(b)) })
	if page.After != nil {
		i, _ := slices.BinarySearchFunc(items, *page.After, func(item T, after chat.Cursor) int {
			if newestFirst(pos(item), after) <= 0 {
				return -1
			}
			return 1
		})
		items = items[i:]
	}
	out := chat.Page[T]{Items: []T{}}
	if len(items) > page.Limit {
		items = items[:page.Limit]
		next := pos(items[len(items)-1])
		out.Next = &next
	}
	out.Items = append(out.Items, items...)
	return out
}
