// Package portstest holds the contract tests that every implementation of a
// port must pass, so that all adapters of one port are held to one behaviour:
// Stores for the user context's stores with the platform's Transactor and
// Revocations, and Chats for the chat context's stores, both run against the
// in-memory, SQLite and PostgreSQL adapters; and one suite per other port
// that has several adapters (RateLimiter: in-process and Redis). An
// adapter's test calls the suite with a function that builds a fresh, empty
// instance.
//
// It is imported only by tests. It may import ports, domain packages, the
// standard library and github.com/google/uuid; never an adapter or bootstrap.
package portstest
