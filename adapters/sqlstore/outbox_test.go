package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/ports"
)

// TestOutboxRecordsWithTheTransaction: events recorded in a transaction
// that rolls back are gone with it; committed ones are stored as given.
func TestOutboxRecordsWithTheTransaction(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]sqlstore.Options{
		"SQLite":   {DataDir: sqltest.SQLiteDir(t)},
		"Postgres": {DatabaseURL: sqltest.PostgresURL(t)},
	} {
		t.Run(name, func(t *testing.T) {
			db := openMigrated(t, o)
			outbox, tx := sqlstore.NewOutbox(db), sqlstore.NewTransactor(db)
			event := func(typ string) ports.Event {
				return ports.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Subject: uuid.New(), Time: t0, Data: json.RawMessage(`{"id":"x","n":1}`)}
			}
			boom := errors.New("boom")
			err := tx.Atomically(t.Context(), func(ctx context.Context) error {
				if err := outbox.Record(ctx, event("rolled.back")); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			kept := []ports.Event{event("user.created"), event("session.started")}
			if err := tx.Atomically(t.Context(), func(ctx context.Context) error { return outbox.Record(ctx, kept...) }); err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				ID, Type, Data string
			}
			if err := db.Table("outbox").Select("id, type, data").Order("seq").Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0].ID != kept[0].ID.String() || rows[1].Type != "session.started" {
				t.Fatalf("outbox rows %+v, want the two committed events in order", rows)
			}
			var data map[string]any
			if err := json.Unmarshal([]byte(rows[0].Data), &data); err != nil || data["n"] != 1.0 {
				t.Fatalf("data %q (%v)", rows[0].Data, err)
			}
		})
	}
}
