package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"example.com/usersvc/migrations"
)

// Migrate runs the migrations of package migrations for dialect d on db (the
// *sql.DB under Open's *gorm.DB):
//
//   - "up" applies every pending migration; with none pending it does nothing;
//   - "down" rolls back the most recently applied one; with none applied it
//     fails.
//
// Any other command fails; the "status" of the migrate subcommand is
// MigrationStatus. Each migration runs in its own transaction. On PostgreSQL a
// session advisory lock makes concurrent Migrates (two servers starting at
// once) take turns. Migrate keeps no global state, so tests may migrate
// separate databases in parallel. A database that cannot be reached gives an
// error wrapping ports.ErrUnavailable.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, command string) error {
	p, err := newProvider(db, d)
	if err != nil {
		return err
	}
	switch command {
	case "up":
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("sqlstore: migrate up: %w", translate(err))
		}
		return nil
	case "down":
		_, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return errors.New("sqlstore: migrate down: no applied migration to roll back")
		}
		if err != nil {
			return fmt.Errorf("sqlstore: migrate down: %w", translate(err))
		}
		return nil
	}
	return fmt.Errorf("sqlstore: unknown migrate command %q: want up or down (status is MigrationStatus)", command)
}

// MigrationState is one migration of package migrations and whether it is
// applied to the database.
type MigrationState struct {
	// Version is the migration's number, 1 for 00001_users.sql.
	Version int64
	// Name is the migration's file name.
	Name string
	// Applied reports whether the migration is applied; AppliedAt is when,
	// and the zero time while it is pending.
	Applied   bool
	AppliedAt time.Time
}

// Status lists every migration, oldest first.
type Status []MigrationState

// String renders s as a table for the migrate status subcommand.
func (s Status) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tMIGRATION\tSTATE\tAPPLIED AT")
	for _, m := range s {
		state, at := "pending", "-"
		if m.Applied {
			state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
	}
	_ = w.Flush()
	return b.String()
}

// Pending reports how many migrations are not applied.
func (s Status) Pending() int {
	n := 0
	for _, m := range s {
		if !m.Applied {
			n++
		}
	}
	return n
}

// MigrationStatus reports every migration of dialect d and whether db has it
// applied. It creates goose's version table when missing but applies nothing.
// A database that cannot be reached gives an error wrapping
// ports.ErrUnavailable.
func MigrationStatus(ctx context.Context, db *sql.DB, d Dialect) (Status, error) {
	p, err := newProvider(db, d)
	if err != nil {
		return nil, err
	}
	list, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migration status: %w", translate(err))
	}
	out := make(Status, 0, len(list))
	for _, m := range list {
		out = append(out, MigrationState{
			Version:   m.Source.Version,
			Name:      path.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt.UTC(),
		})
	}
	return out, nil
}

// newProvider builds a goose provider for d's folder of migrations.FS, with
// goose's global registry of Go migrations and its logger switched off. The
// provider is not closed after use: its Close would close db, which belongs
// to the caller.
func newProvider(db *sql.DB, d Dialect) (*goose.Provider, error) {
	var (
		dialect goose.Dialect
		opts    = []goose.ProviderOption{
			goose.WithDisableGlobalRegistry(true),
			goose.WithLogger(goose.NopLogger()),
		}
	)
	switch d {
	case Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 120))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case SQLite:
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("sqlstore: no migrations for dialect %q", d)
	}
	fsys, err := fs.Sub(migrations.FS, string(d))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", d, err)
	}
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", d, err)
	}
	return p, nil
}
