package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/portstest"
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

func TestOutboxContract(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		portstest.Outbox(t, func(t *testing.T) portstest.OutboxSet {
			return outboxSet(openMigrated(t, sqlstore.Options{DataDir: sqltest.SQLiteDir(t)}))
		})
	})
	t.Run("Postgres", func(t *testing.T) {
		portstest.Outbox(t, func(t *testing.T) portstest.OutboxSet {
			return outboxSet(openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), QueryTimeout: 2 * time.Second}))
		})
	})
}

func outboxSet(db *gorm.DB) portstest.OutboxSet {
	o := sqlstore.NewOutbox(db)
	return portstest.OutboxSet{Events: o, Outbox: o, Tx: sqlstore.NewTransactor(db)}
}

// TestConcurrentClaimsKeepEachUsersOrder: on PostgreSQL a second relay
// claiming while the first holds its batch gets other rows (SKIP LOCKED),
// never a later event of a user whose earlier event the first one holds,
// and never an event the first one holds.
func TestConcurrentClaimsKeepEachUsersOrder(t *testing.T) {
	t.Parallel()
	db := openMigrated(t, sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), QueryTimeout: 2 * time.Second})
	o := sqlstore.NewOutbox(db)
	x, y, z := uuid.New(), uuid.New(), uuid.New()
	ev := func(s uuid.UUID, typ string) ports.Event {
		return ports.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Subject: s, Time: t0, Data: json.RawMessage(`{}`)}
	}
	x1, y1, x2, z1, y2 := ev(x, "x1"), ev(y, "y1"), ev(x, "x2"), ev(z, "z1"), ev(y, "y2")
	for _, e := range []ports.Event{x1, y1, x2, z1, y2} {
		if err := o.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	types := func(batch []ports.PendingEvent) (out []string) {
		for _, e := range batch {
			out = append(out, e.Type)
		}
		return out
	}
	var first, second []string
	err := o.Claim(t.Context(), now, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
		first = types(batch)
		// Another relay, on its own connection, while this one holds x1.
		if err := o.Claim(t.Context(), now, 10, func(ctx context.Context, batch []ports.PendingEvent) error {
			second = types(batch)
			seqs := []int64{}
			for _, e := range batch {
				seqs = append(seqs, e.Seq)
			}
			return o.MarkDelivered(ctx, now, seqs...)
		}); err != nil {
			return err
		}
		return o.MarkDelivered(ctx, now, batch[0].Seq)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, []string{"x1"}) || !slices.Equal(second, []string{"y1", "z1", "y2"}) {
		t.Fatalf("first relay %v, second %v; want x1, then y1 z1 y2 (x2 must wait for x1)", first, second)
	}
	var third []string
	if err := o.Claim(t.Context(), now, 10, func(ctx context.Context, batch []ports.PendingEvent) error { third = types(batch); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(third, []string{"x2"}) {
		t.Fatalf("after both committed: %v, want x2", third)
	}
}
