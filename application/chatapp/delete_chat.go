package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// DeleteChat removes one chat of the caller with its messages.
type DeleteChat struct{ chats chatports.Chats }

// Do deletes the caller's chat id and its messages, or fails with
// chat.ErrNotFound.
func (uc *DeleteChat) Do(ctx context.Context, p ports.Principal, id chat.ID) error {
	return uc.chats.Delete(ctx, p.UserID, id)
}
