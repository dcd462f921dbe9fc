package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// CreateChat starts a chat of the caller.
type CreateChat struct {
	chats chatports.Chats
	clock ports.Clock
	ids   ports.IDs
}

// Do stores a new chat with title, owned by the caller, and returns it. It
// fails with chat.ErrOwnerUnknown when the caller's account is gone.
func (uc *CreateChat) Do(ctx context.Context, p ports.Principal, title chat.Title) (*chat.Chat, error) {
	c := chat.New(chat.ID(uc.ids.NewUUID()), p.UserID, title, uc.clock.Now())
	if err := uc.chats.Add(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}
