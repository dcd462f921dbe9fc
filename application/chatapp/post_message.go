package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// PostMessage adds a message of the caller to one of their chats.
type PostMessage struct {
	messages chatports.Messages
	clock    ports.Clock
	ids      ports.IDs
}

// Do stores a message with body in the caller's chat and returns it, or
// fails with chat.ErrNotFound when the chat is not theirs.
func (uc *PostMessage) Do(ctx context.Context, p ports.Principal, chatID chat.ID, body chat.Body) (*chat.Message, error) {
	m := chat.NewMessage(chat.MessageID(uc.ids.NewUUID()), chatID, p.UserID, body, uc.clock.Now())
	if err := uc.messages.Add(ctx, p.UserID, m); err != nil {
		return nil, err
	}
	return m, nil
}
