// Package httpapi is the HTTP driving adapter: the gin engine, its middleware
// (request id, access log, recovery, security headers), request decoding,
// the one table from errors to RFC 9457 problem documents, and the routes of
// each bounded context (users.go for the user context).
//
// It imports application, domain and ports packages and gin; never GORM, fx,
// or another adapter. Dependencies arrive as constructor parameters.
package httpapi
