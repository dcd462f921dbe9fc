package memory_test

import (
	"testing"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/ports/portstest"
)

func TestStores(t *testing.T) {
	portstest.Stores(t, func(*testing.T) portstest.Set {
		s := memory.NewStore()
		return portstest.Set{Users: s.Users(), Sessions: s.Sessions(), Tx: s.Transactor()}
	})
}
