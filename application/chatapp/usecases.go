package chatapp

import (
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// Deps are the ports the chat use cases are built from.
type Deps struct {
	Chats    chatports.Chats
	Messages chatports.Messages
	Clock    ports.Clock
	IDs      ports.IDs
}

// UseCases are the chat context's use cases: the one list of them. Adding a
// use case adds its file, a field here and its line in NewUseCases.
type UseCases struct {
	CreateChat   *CreateChat
	ListChats    *ListChats
	GetChat      *GetChat
	RenameChat   *RenameChat
	DeleteChat   *DeleteChat
	PostMessage  *PostMessage
	ListMessages *ListMessages
}

// NewUseCases builds every chat use case from d.
func NewUseCases(d Deps) *UseCases {
	return &UseCases{
		CreateChat:   &CreateChat{chats: d.Chats, clock: d.Clock, ids: d.IDs},
		ListChats:    &ListChats{chats: d.Chats},
		GetChat:      &GetChat{chats: d.Chats},
		RenameChat:   &RenameChat{chats: d.Chats, clock: d.Clock},
		DeleteChat:   &DeleteChat{chats: d.Chats},
		PostMessage:  &PostMessage{messages: d.Messages, clock: d.Clock, ids: d.IDs},
		ListMessages: &ListMessages{messages: d.Messages},
	}
}

// page returns r with the default limit when it names none.
func page(r chat.PageRequest) chat.PageRequest {
	if r.Limit <= 0 {
		r.Limit = chat.DefaultLimit
	}
	r.Limit = min(r.Limit, chat.MaxLimit)
	return r
}
