package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// ListMessages pages through the messages of one chat of the caller, newest
// first.
type ListMessages struct{ messages chatports.Messages }

// Do returns one page of the messages of the caller's chat, or fails with
// chat.ErrNotFound; a zero Limit means chat.DefaultLimit.
func (uc *ListMessages) Do(ctx context.Context, p ports.Principal, chatID chat.ID, r chat.PageRequest) (chat.Page[*chat.Message], error) {
	return uc.messages.List(ctx, p.UserID, chatID, page(r))
}
