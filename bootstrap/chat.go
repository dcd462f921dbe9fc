package bootstrap

import (
	"go.uber.org/fx"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/application/chatapp"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
)

// Chat wires the chat context: its stores, its use cases and its routes, on
// the platform's database, clock, ids, authenticator and guard. It needs
// nothing of the user context: a chat's owner is the principal's user id,
// and the database's foreign keys delete an account's chats with it.
func Chat() fx.Option {
	return fx.Module("chat",
		fx.Provide(
			as[chatports.Chats](sqlstore.NewChats),
			as[chatports.Messages](sqlstore.NewMessages),
			newChatUseCases,
			route(newChatRoutes),
		),
	)
}

func newChatUseCases(chats chatports.Chats, messages chatports.Messages, clk ports.Clock, ids ports.IDs) *chatapp.UseCases {
	return chatapp.NewUseCases(chatapp.Deps{Chats: chats, Messages: messages, Clock: clk, IDs: ids})
}

func newChatRoutes(uc *chatapp.UseCases, bearer *httpapi.Bearer, guard *httpapi.Guard, cfg Config) *httpapi.ChatRoutes {
	writes := cfg.LimitChatWrites
	if !cfg.RateLimits {
		writes = ports.Limit{}
	}
	return httpapi.NewChatRoutes(uc, bearer, guard, writes)
}
