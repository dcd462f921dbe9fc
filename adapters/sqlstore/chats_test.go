package sqlstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/portstest"
)

func TestChatsSQLite(t *testing.T) {
	t.Parallel()
	portstest.Chats(t, func(t *testing.T) portstest.ChatSet {
		return chatSet(openMigrated(t, sqlstore.Options{DataDir: sqltest.SQLiteDir(t)}))
	})
}

func TestChatsPostgres(t *testing.T) {
	t.Parallel()
	portstest.Chats(t, func(t *testing.T) portstest.ChatSet {
		return chatSet(openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), MaxOpenConns: 8}))
	})
}

// chatSet is the chat stores on db, with owners made and deleted through
// the user context's own store, as the service does.
func chatSet(db *gorm.DB) portstest.ChatSet {
	users := sqlstore.NewUsers(db)
	return portstest.ChatSet{
		Chats:    sqlstore.NewChats(db),
		Messages: sqlstore.NewMessages(db),
		Tx:       sqlstore.NewTransactor(db),
		NewOwner: func(t *testing.T) uuid.UUID {
			name, _ := user.ParseUsername("u" + uuid.NewString()[:8])
			u := user.New(user.ID(uuid.Must(uuid.NewV7())), name, user.NewPasswordHash("$argon2id$x"), user.FullName{}, t0)
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
}

// TestAnotherTablesViolationIsNotATakenUsername adds one chat twice: the
// primary key's violation names its constraint and never reads as the users
// table's unique username.
func TestAnotherTablesViolationIsNotATakenUsername(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]sqlstore.Options{
		"SQLite":   {DataDir: sqltest.SQLiteDir(t)},
		"Postgres": {DatabaseURL: sqltest.PostgresURL(t)},
	} {
		t.Run(name, func(t *testing.T) {
			s := chatSet(openMigrated(t, o))
			title, _ := chat.ParseTitle("Twice")
			c := chat.New(chat.ID(uuid.New()), s.NewOwner(t), title, t0)
			if err := s.Chats.Add(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			err := s.Chats.Add(t.Context(), c)
			if err == nil || errors.Is(err, user.ErrUsernameTaken) || !strings.Contains(err.Error(), "chats") {
				t.Fatalf("second Add of one chat = %v, want a violation naming the chats table's key", err)
			}
		})
	}
}
