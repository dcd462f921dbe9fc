package sqlstore_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/sqlstore/sqltest"
)

// TestMigrateRoundTrip runs up, down and status on each dialect with a
// one-connection pool, as the migrate subcommand opens it.
func TestMigrateRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts func(t *testing.T) sqlstore.Options
	}{
		{"SQLite", func(t *testing.T) sqlstore.Options {
			return sqlstore.Options{DataDir: sqltest.SQLiteDir(t), MaxOpenConns: 1}
		}},
		{"Postgres", func(t *testing.T) sqlstore.Options {
			return sqlstore.Options{DatabaseURL: sqltest.PostgresURL(t), MaxOpenConns: 1}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testMigrateRoundTrip(t, c.opts(t))
		})
	}
}

func testMigrateRoundTrip(t *testing.T, o sqlstore.Options) {
	ctx := t.Context()
	db, dialect, err := sqlstore.Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })

	fresh, err := sqlstore.MigrationStatus(ctx, sqlDB, dialect)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	all := len(fresh)
	if all < 4 || fresh[0].Name != "00001_users.sql" || fresh[1].Name != "00002_sessions.sql" {
		t.Fatalf("migrations listed:\n%s", fresh)
	}
	wantApplied := func(step string, want int) {
		t.Helper()
		st, err := sqlstore.MigrationStatus(ctx, sqlDB, dialect)
		if err != nil {
			t.Fatalf("%s: MigrationStatus: %v", step, err)
		}
		if len(st) != all {
			t.Fatalf("%s: %d migrations listed, want %d:\n%s", step, len(st), all, st)
		}
		if got := len(st) - st.Pending(); got != want {
			t.Fatalf("%s: %d applied, want %d:\n%s", step, got, want, st)
		}
		for i, m := range st {
			if m.Applied != (i < want) || m.Applied == m.AppliedAt.IsZero() {
				t.Errorf("%s: migration %d: %+v", step, m.Version, m)
			}
		}
	}
	tableExists := func(table string) bool {
		t.Helper()
		q := "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
		if dialect == sqlstore.SQLite {
			q = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
		}
		var n int
		if err := sqlDB.QueryRowContext(ctx, q, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	migrate := func(cmd string) {
		t.Helper()
		if err := sqlstore.Migrate(ctx, sqlDB, dialect, cmd); err != nil {
			t.Fatalf("Migrate %s: %v", cmd, err)
		}
	}

	tables := []string{"users", "sessions", "chats", "messages"}
	wantApplied("fresh", 0)
	migrate("up")
	wantApplied("after up", all)
	for _, table := range tables {
		if !tableExists(table) {
			t.Fatalf("table %s missing after up", table)
		}
	}
	migrate("up") // nothing pending: no error, no change
	wantApplied("after second up", all)
	for n := all - 1; n >= 0; n-- {
		migrate("down") // every migration rolls back, one at a time
		wantApplied(fmt.Sprintf("after rolling back to %d", n), n)
		if n == 1 && (!tableExists("users") || tableExists("sessions")) {
			t.Fatal("rolling back to the first migration must leave users only")
		}
	}
	for _, table := range tables {
		if tableExists(table) {
			t.Fatalf("table %s remains after rolling everything back", table)
		}
	}
	if err := sqlstore.Migrate(ctx, sqlDB, dialect, "down"); err == nil {
		t.Error("Migrate down with nothing applied succeeded, want an error")
	}
	migrate("up")
	wantApplied("after up again", all)

	if err := sqlstore.Migrate(ctx, sqlDB, dialect, "sideways"); err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Errorf("Migrate(unknown command) = %v, want an error naming it", err)
	}
	st, _ := sqlstore.MigrationStatus(ctx, sqlDB, dialect)
	if s := st.String(); !strings.Contains(s, "00001_users.sql") || !strings.Contains(s, "00002_sessions.sql") || strings.Contains(s, "pending") {
		t.Errorf("Status.String() =\n%s", s)
	}
	checkSchemaRefusesBadRows(t, sqlDB, dialect)
}

// checkSchemaRefusesBadRows shows that the database itself, not only the Go
// code, keeps the username key in step and refuses duplicates.
func checkSchemaRefusesBadRows(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
	t.Helper()
	ins := "INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES ($1, $2, $3, 'h', $4, $4)"
	ts := any("2026-11-25 20:00:00+00:00")
	if d == sqlstore.SQLite {
		ins = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?4").Replace(ins)
	}
	exec := func(id, name, key string) error {
		_, err := db.ExecContext(t.Context(), ins, id, name, key, ts)
		return err
	}
	if err := exec("00000000-0000-7000-8000-000000000001", "Alice", "alice"); err != nil {
		t.Fatalf("valid row refused: %v", err)
	}
	for _, c := range []struct{ id, name, key string }{
		{"00000000-0000-7000-8000-000000000002", "ALICE", "alice"}, // duplicate key
		{"00000000-0000-7000-8000-000000000003", "Bob", "Bob"},     // key not lower-cased
		{"00000000-0000-7000-8000-000000000004", "Bo b", "bo b"},   // not ASCII letters and digits
	} {
		if err := exec(c.id, c.name, c.key); err == nil {
			t.Errorf("row (%q, %q) was accepted", c.name, c.key)
		}
	}
}
