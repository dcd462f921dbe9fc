// Package sqltest gives tests a database of their own: a freshly created
// PostgreSQL database on the server named by TEST_DATABASE_URL, dropped when
// the test ends, or a directory for an SQLite file, and a FaultProxy that
// puts latency, stalls, cuts and holds between a service and its PostgreSQL
// server. It is imported only by tests (here and by the HTTP end-to-end
// tests), never by production code.
//
// It may import the standard library and pgx (to create and drop databases);
// it does not import sqlstore, so sqlstore's own tests can use it.
package sqltest
