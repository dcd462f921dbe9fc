// Package ports declares the platform's interfaces, those every bounded
// context may use: Clock, IDs, Transactor, RateLimiter, and authentication
// (Principal, AccessVerifier, Revocations), with the errors ErrUnavailable,
// ErrBusy and ErrUnauthenticated. It is free of any context's types: it
// imports no domain package. Each context's own ports live beside it
// (ports/userports, ports/chatports).
//
// Like database/sql/driver, the ports belong to their consumer, the
// application layer; adapters implement them. No GORM, gin or JWT type
// appears here.
package ports
