package sqlstore_test

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/ports/portstest"
)

func TestStoresSQLite(t *testing.T) {
	t.Parallel()
	portstest.Stores(t, func(t *testing.T) portstest.Set {
		return storeSet(openMigrated(t, sqlstore.Options{DataDir: sqltest.SQLiteDir(t)}))
	})
}

func TestStoresPostgres(t *testing.T) {
	t.Parallel()
	portstest.Stores(t, func(t *testing.T) portstest.Set {
		return storeSet(openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), MaxOpenConns: 8}))
	})
}

func storeSet(db *gorm.DB) portstest.Set {
	rev := sqlstore.NewRevocations(db, sqlstore.RevocationOptions{Horizon: time.Hour})
	return portstest.Set{Users: sqlstore.NewUsers(db), Sessions: sqlstore.NewSessions(db, rev), Tx: sqlstore.NewTransactor(db), Revocations: rev}
}

// openMigrated opens the database o selects, migrates it up and closes it
// when the test ends.
func openMigrated(t *testing.T, o sqlstore.Options) *gorm.DB {
	t.Helper()
	db, dialect, err := sqlstore.Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("DB: %v", err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	if err := sqlstore.Migrate(t.Context(), sqlDB, dialect, "up"); err != nil {
		t.Fatalf("Migrate up: %v", err)
	}
	return db
}
