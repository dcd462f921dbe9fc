// Package memory implements the store ports with maps, for fast tests of the
// use cases: the user context's (userports.Users, userports.Sessions, and
// the platform's ports.Revocations) and the chat context's
// (chatports.Chats, chatports.Messages), with one ports.Transactor for all.
// Each context's store keeps its own tables on a shared DB, which holds the
// one lock, snapshots for all-or-nothing transactions and the cascades that
// the SQL schema declares as foreign keys (a deleted user's chats go, its
// sessions stay as ended tombstones). It keeps the semantics of the SQL
// stores that the contract tests in ports/portstest pin down. Times are kept
// in UTC at microsecond precision, as PostgreSQL keeps them. Nothing is
// persisted.
//
// It may import domain packages, ports and the standard library only.
package memory
