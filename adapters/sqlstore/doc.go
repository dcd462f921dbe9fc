// Package sqlstore implements the store ports (ports.Users, ports.Sessions,
// ports.Transactor) with GORM, for PostgreSQL (gorm.io/driver/postgres, pgx)
// and SQLite (github.com/glebarez/sqlite, pure Go, no cgo), and opens and
// migrates the database (Open, Migrate, MigrationStatus, with the goose files
// of package migrations).
//
// GORM stays inside: rows are unexported structs converted to and from domain
// values by named converters, the schema comes only from the SQL migrations
// (never AutoMigrate), and the only GORM type in an exported signature is the
// *gorm.DB that Open returns and the constructors take. Database errors are
// translated into the errors the ports promise (user.ErrNotFound,
// user.ErrUsernameTaken, user.ErrSessionInvalid, ports.ErrUnavailable); no
// SQL text or bound value is ever logged.
//
// It may import domain packages, ports, migrations, the standard library, GORM
// and its drivers, pgx, goose and golang.org/x/sys/unix (socket options);
// never application, bootstrap or a sibling adapter.
package sqlstore
