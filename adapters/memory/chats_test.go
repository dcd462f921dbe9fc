package memory_test

import (
	"testing"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/portstest"
)

func TestChats(t *testing.T) {
	portstest.Chats(t, func(t *testing.T) portstest.ChatSet {
		db := memory.NewDB()
		users, chats := memory.NewUserStore(db).Users(), memory.NewChatStore(db)
		return portstest.ChatSet{
			Chats:    chats.Chats(),
			Messages: chats.Messages(),
			Tx:       db.Transactor(),
			NewOwner: func(t *testing.T) uuid.UUID {
				u := newUser(t, "u"+uuid.NewString()[:8])
				if err := users.Add(t.Context(), u); err != nil {
					t.Fatal(err)
				}
				return uuid.UUID(u.ID())
			},
			DeleteOwner: func(t *testing.T, owner uuid.UUID) {
				if err := users.Delete(t.Context(), user.ID(owner)); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
