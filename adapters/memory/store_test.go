package memory_test

import (
	"testing"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/ports/portstest"
)

func TestStores(t *testing.T) {
	portstest.Stores(t, func(*testing.T) portstest.Set {
		db := memory.NewDB()
		s := memory.NewUserStore(db)
		return portstest.Set{Users: s.Users(), Sessions: s.Sessions(), Tx: db.Transactor(), Revocations: s.Revocations()}
	})
}

func TestOutbox(t *testing.T) {
	portstest.Outbox(t, func(*testing.T) portstest.OutboxSet {
		db := memory.NewDB()
		o := memory.NewOutbox(db)
		return portstest.OutboxSet{Events: o, Outbox: o, Tx: db.Transactor()}
	})
}
