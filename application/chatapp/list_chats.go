package chatapp

import (
	"context"

	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// ListChats pages through the caller's chats, newest first.
type ListChats struct{ chats chatports.Chats }

// Do returns one page of the caller's chats; a zero Limit means
// chat.DefaultLimit.
func (uc *ListChats) Do(ctx context.Context, p ports.Principal, r chat.PageRequest) (chat.Page[*chat.Chat], error) {
	return uc.chats.List(ctx, p.UserID, page(r))
}
