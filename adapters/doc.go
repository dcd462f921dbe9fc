// Package adapters holds the implementations of the ports and the driving
// adapters: httpapi (gin), sqlstore (GORM on PostgreSQL and SQLite), memory
// (map-backed stores for fast tests), passwords (argon2id, bcrypt), tokens
// (JWT with Ed25519) and clock. An adapter imports domain packages and ports;
// httpapi also imports the application packages it drives. No adapter imports
// another adapter or bootstrap.
package adapters
