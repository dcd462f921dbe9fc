package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// RenameChat changes the title of one chat of the caller.
type RenameChat struct {
	chats chatports.Chats
	clock ports.Clock
}

// Do stores the new title and returns the chat as stored, or fails with
// chat.ErrNotFound.
func (uc *RenameChat) Do(ctx context.Context, p ports.Principal, id chat.ID, title chat.Title) (*chat.Chat, error) {
	return uc.chats.Update(ctx, p.UserID, id, func(c *chat.Chat) error {
		c.Rename(title, uc.clock.Now())
		return nil
	})
}
