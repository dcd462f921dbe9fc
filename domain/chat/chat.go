package chat

import (
	"time"

	"github.com/google/uuid"
)

// Chat is a conversation owned by one user. Fields are unexported; a rename
// goes through Rename, which moves updatedAt forward.
type Chat struct {
	id                   ID
	owner                uuid.UUID
	title                Title
	createdAt, updatedAt time.Time
}

// New creates a chat of owner; id and now come from the caller so tests are
// exact.
func New(id ID, owner uuid.UUID, title Title, now time.Time) *Chat {
	now = now.UTC()
	return &Chat{id: id, owner: owner, title: title, createdAt: now, updatedAt: now}
}

// Restore rebuilds a stored chat. Only storage adapters call it.
func Restore(id ID, owner uuid.UUID, title Title, created, updated time.Time) *Chat {
	return &Chat{id: id, owner: owner, title: title, createdAt: created.UTC(), updatedAt: updated.UTC()}
}

// ID returns the chat's id.
func (c *Chat) ID() ID { return c.id }

// Owner returns the id of the user the chat belongs to.
func (c *Chat) Owner() uuid.UUID { return c.owner }

// Title returns the chat's title.
func (c *Chat) Title() Title { return c.title }

// CreatedAt returns when the chat was created, in UTC.
func (c *Chat) CreatedAt() time.Time { return c.createdAt }

// UpdatedAt returns when the chat last changed, in UTC.
func (c *Chat) UpdatedAt() time.Time { return c.updatedAt }

// Position returns where the chat stands in its owner's list, newest first.
func (c *Chat) Position() Cursor { return Cursor{At: c.createdAt, ID: uuid.UUID(c.id)} }

// Rename changes the title.
func (c *Chat) Rename(title Title, now time.Time) {
	c.title = title
	if now = now.UTC(); now.After(c.updatedAt) {
		c.updatedAt = now
	}
}

// Message is one message of a chat, written by its author. Messages are
// never edited.
type Message struct {
	id        MessageID
	chat      ID
	author    uuid.UUID
	body      Body
	createdAt time.Time
}

// NewMessage creates a message of author in chat; id and now come from the
// caller.
func NewMessage(id MessageID, chat ID, author uuid.UUID, body Body, now time.Time) *Message {
	return &Message{id: id, chat: chat, author: author, body: body, createdAt: now.UTC()}
}

// RestoreMessage rebuilds a stored message. Only storage adapters call it.
func RestoreMessage(id MessageID, chat ID, author uuid.UUID, body Body, created time.Time) *Message {
	return &Message{id: id, chat: chat, author: author, body: body, createdAt: created.UTC()}
}

// ID returns the message's id.
func (m *Message) ID() MessageID { return m.id }

// Chat returns the id of the chat the message belongs to.
func (m *Message) Chat() ID { return m.chat }

// Author returns the id of the user who wrote the message.
func (m *Message) Author() uuid.UUID { return m.author }

// Body returns the message's text.
func (m *Message) Body() Body { return m.body }

// CreatedAt returns when the message was written, in UTC.
func (m *Message) CreatedAt() time.Time { return m.createdAt }

// Position returns where the message stands in its chat, newest first.
func (m *Message) Position() Cursor { return Cursor{At: m.createdAt, ID: uuid.UUID(m.id)} }
