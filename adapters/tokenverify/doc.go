// Package tokenverify lets another Go service trust this service's access
// tokens without calling it on every request.
//
// A Verifier fetches the service's public keys from its JWKS URL
// (/.well-known/jwks.json) with MicahParks/keyfunc, keeps them cached,
// refreshes them on a timer and, at a bounded rate, when a token names a key
// it does not know (a rotation), and checks each token exactly as the service
// does: EdDSA only, typ at+jwt, iss, aud, exp, nbf and iat within a small
// leeway, a user id (sub) and a session id (sid). Verify hands back the
// Principal; Middleware (net/http) and the tokengin subpackage (gin) put it in
// the request context and answer any refusal with the same 401
// application/problem+json document and WWW-Authenticate challenge as the
// service itself.
//
// Tokens stay valid until they expire unless the Verifier also follows the
// service's events (Config.Revocations): then a session.revoked,
// user.disabled or user.deleted CloudEvent read from NATS JetStream makes
// Verify refuse that session's or user's tokens at once, for as long as any
// of them could still be unexpired.
//
// Without Revocations, a revoked session's tokens keep verifying here until
// they expire (at most the access-token lifetime). While NATS is unreachable
// the Verifier goes on with what it knows and, once reconnected, reads the
// events it missed.
//
// The package stands alone: it imports nothing else of this module, so a
// service that only verifies tokens pulls in the standard library, jwt,
// keyfunc (with jwkset and x/time/rate) and nats.go, and gin only through
// tokengin.
package tokenverify
