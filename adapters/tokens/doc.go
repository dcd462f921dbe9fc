// Package tokens is the adapter for the userports.Tokens and
// ports.AccessVerifier ports: access and refresh tokens as JWTs signed with
// Ed25519 (EdDSA) through github.com/golang-jwt/jwt/v5, the key ring that
// signs and verifies them, and its JWKS document.
//
// Access tokens carry the header typ "at+jwt" (RFC 9068), refresh tokens
// "refresh+jwt"; each verifier accepts only its own kind. Several keys may be
// configured so that keys can be rotated: the newest signs, every configured
// one verifies, and a key removed from the configuration stops verifying.
//
// It may import domain packages, ports, the standard library, golang-jwt and
// github.com/google/uuid; never application, bootstrap or another adapter.
// No error of this package contains a token or key material.
package tokens
