// Package bootstrap builds the service: configuration from environment
// variables, one fx module for the platform (logging, database, tokens,
// passwords, HTTP server) and one per bounded context (User today), and the
// command line (serve, migrate, version, help). It is the only package that
// imports go.uber.org/fx, and only main and end-to-end tests import it.
package bootstrap
