// Package memory implements the store ports (ports.Users, ports.Sessions,
// ports.Transactor) with maps behind one mutex, for fast tests of the use
// cases. It keeps the semantics of the SQL stores that the contract tests in
// ports/portstest pin down: case-insensitive unique usernames, sessions
// checked for liveness when a user is loaded by session, all-or-nothing
// updates, conditional refresh rotation, and sessions deleted with their
// user. Times are kept in UTC at microsecond precision, as PostgreSQL keeps
// them. Nothing is persisted.
//
// It may import domain packages, ports and the standard library only.
package memory
