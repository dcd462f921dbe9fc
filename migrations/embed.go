// Package migrations holds the versioned SQL migrations of the service's
// database, embedded in the binary: postgres/ for PostgreSQL and sqlite/ for
// SQLite, each a sequence of goose files (00001_users.sql, 00002_sessions.sql,
// ...) with "-- +goose Up" and "-- +goose Down" sections. The two folders
// describe the same schema; a new migration adds one file to each.
//
// Only adapters/sqlstore reads FS, through goose. The package imports nothing
// but the standard library's embed and runs nothing on import.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql. Callers take one dialect's folder
// with fs.Sub.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
