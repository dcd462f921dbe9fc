// Package chatports declares the interfaces the chat context's use cases
// need: its stores. Like package ports, it belongs to its consumer,
// application/chatapp, and speaks the chat domain's types only; it imports
// nothing of another bounded context.
package chatports

import (
	"context"

	"github.com/google/uuid"

	"example.com/usersvc/domain/chat"
)

// Chats keeps chats. Every method takes the owner's id and treats a chat of
// another owner exactly like a missing one (chat.ErrNotFound), so a caller
// can never learn that it exists. Failures to reach the store wrap
// ports.ErrUnavailable. Safe for concurrent use.
type Chats interface {
	// Add stores a new chat. It fails with chat.ErrOwnerUnknown when the
	// owner's account no longer exists.
	Add(ctx context.Context, c *chat.Chat) error
	// Get returns the owner's chat id.
	Get(ctx context.Context, owner uuid.UUID, id chat.ID) (*chat.Chat, error)
	// List returns the owner's chats newest first, page.Limit at most, after
	// page.After when it is set; Next is set when older chats exist.
	List(ctx context.Context, owner uuid.UUID, page chat.PageRequest) (chat.Page[*chat.Chat], error)
	// Update loads the owner's chat id, applies change and stores the result
	// in one transaction; if change fails, nothing is stored and its error is
	// returned. It returns the chat as stored.
	Update(ctx context.Context, owner uuid.UUID, id chat.ID, change func(*chat.Chat) error) (*chat.Chat, error)
	// Delete removes the owner's chat id and, in the same statement, its
	// messages.
	Delete(ctx context.Context, owner uuid.UUID, id chat.ID) error
}

// Messages keeps the messages of chats. Like Chats, every method takes the
// caller's id and fails with chat.ErrNotFound when the chat is not theirs.
type Messages interface {
	// Add stores m in its chat, which must belong to owner; the ownership
	// check and the insert are one statement, so a chat deleted meanwhile
	// gets no message.
	Add(ctx context.Context, owner uuid.UUID, m *chat.Message) error
	// List returns the messages of the owner's chat newest first, page.Limit
	// at most, after page.After when it is set; Next is set when older
	// messages exist. A chat without messages gives an empty page.
	List(ctx context.Context, owner uuid.UUID, chatID chat.ID, page chat.PageRequest) (chat.Page[*chat.Message], error)
}
