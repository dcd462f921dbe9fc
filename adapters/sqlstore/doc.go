// Package sqlstore implements the store ports of every bounded context with
// GORM, for PostgreSQL (gorm.io/driver/postgres, pgx) and SQLite
// (github.com/glebarez/sqlite, pure Go, no cgo): the user context's
// (userports.Users, userports.Sessions), the chat context's
// (chatports.Chats, chatports.Messages) and the platform's
// (ports.Transactor, ports.Revocations, with its LISTEN/NOTIFY listener on
// PostgreSQL). It opens and migrates the database (Open, Migrate,
// MigrationStatus, with the goose files of package migrations).
//
// GORM stays inside: rows are unexported structs converted to and from domain
// values by named converters, the schema comes only from the SQL migrations
// (never AutoMigrate), and the only GORM type in an exported signature is the
// *gorm.DB that Open returns and the constructors take. Each store gives the
// errors of its own tables their meaning in its context (a missing row, a
// violation of a constraint it knows by name); translate does the rest
// (ports.ErrUnavailable, constraint names), so no table's violation reads
// as another's. No SQL text or bound value is ever logged.
//
// It may import domain packages, ports, migrations, the standard library, GORM
// and its drivers, pgx, goose and golang.org/x/sys/unix (socket options);
// never application, bootstrap or a sibling adapter.
package sqlstore
