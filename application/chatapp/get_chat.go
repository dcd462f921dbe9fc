package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// GetChat reads one chat of the caller.
type GetChat struct{ chats chatports.Chats }

// Do returns the caller's chat id, or chat.ErrNotFound.
func (uc *GetChat) Do(ctx context.Context, p ports.Principal, id chat.ID) (*chat.Chat, error) {
	return uc.chats.Get(ctx, p.UserID, id)
}
