// Package ports declares the interfaces the use cases need, named by role
// (Users, Sessions, PasswordHasher, Tokens, Clock, IDs, Transactor). Like
// database/sql/driver, it belongs to its consumer, the application layer;
// adapters implement it. It imports only domain packages and the standard
// library, and speaks domain types only: no GORM, gin or JWT type appears here.
package ports
