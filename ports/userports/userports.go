// Package userports declares the interfaces the user context's use cases
// need: its stores (Users, Sessions), password hashing and token issuing.
// Like package ports it belongs to its consumer, application/userapp, and
// speaks domain types only (domain/user and the platform's ports).
package userports

import (
	"context"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Users keeps accounts. Lookups fail with user.ErrNotFound; Add and Update fail
// with user.ErrUsernameTaken when another account holds the same Username.Key.
// Failures to reach the store wrap ports.ErrUnavailable. Safe for concurrent use.
type Users interface {
	// Add stores a new user.
	Add(ctx context.Context, u *user.User) error
	// ByID finds the user with that id, in one statement.
	ByID(ctx context.Context, id user.ID) (*user.User, error)
	// ByUsername finds the user whose Username.Key equals name.Key().
	ByUsername(ctx context.Context, name user.Username) (*user.User, error)
	// Update loads the user, applies change and stores the result in one
	// transaction, holding the row so concurrent Updates serialise; if change
	// fails, nothing is stored and its error is returned.
	Update(ctx context.Context, id user.ID, change func(*user.User) error) error
	// Delete removes the user and, through the store's cascades, what belongs
	// to it (the chats of the chat context). Its sessions stay behind as
	// revoked tombstones with no user and nothing personal, so every instance
	// keeps refusing their access tokens (call Sessions.RevokeAll first).
	// Update and Delete of an unknown id fail with user.ErrNotFound.
	Delete(ctx context.Context, id user.ID) error
}

// Sessions keeps sessions and their refresh-token state. Every method is
// race-safe across processes sharing one database: rotation is a conditional
// write, not a read-then-write. Unknown sessions fail with
// user.ErrSessionInvalid; failures to reach the store wrap
// ports.ErrUnavailable. Every revocation reaches ports.Revocations of every
// instance when its transaction commits.
type Sessions interface {
	// Start stores a new session; for an unknown user it fails with
	// user.ErrNotFound.
	Start(ctx context.Context, s user.Session) error
	// Rotate makes next the session's current refresh token and from its
	// previous one, recording now as the rotation time, but only if from is
	// still current and the session is live at now. It returns the session as
	// stored afterwards and whether this call rotated it; when it did not, the
	// caller judges the replay with Session.JudgeReplay.
	Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time) (user.Session, bool, error)
	// Revoke ends one live session at now. It fails with
	// user.ErrSessionInvalid when no session with that id is live at now
	// (unknown, already revoked or expired), so a logout can say so.
	Revoke(ctx context.Context, sid user.SessionID, now time.Time) error
	// RevokeOthers ends every live session of the user except keep and
	// returns the ids it ended.
	RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) ([]user.SessionID, error)
	// RevokeAll ends every live session of the user and returns the ids it
	// ended.
	RevokeAll(ctx context.Context, uid user.ID, now time.Time) ([]user.SessionID, error)
}

// PasswordHasher hashes and checks passwords. Implementations bound how many
// hashes run at once and fail with ports.ErrBusy when no slot frees in time.
type PasswordHasher interface {
	// Hash derives a new encoded hash of p with a fresh random salt.
	Hash(ctx context.Context, p user.Password) (user.PasswordHash, error)
	// Matches reports whether p matches h in constant time. needsRehash is true
	// when h is of an older scheme or weaker parameters than the current ones.
	// A hash that cannot be parsed, or whose cost is out of bounds, is an error.
	Matches(ctx context.Context, h user.PasswordHash, p user.Password) (ok, needsRehash bool, err error)
}

// RefreshClaims is what a refresh token asserts.
type RefreshClaims struct {
	UserID    user.ID
	SessionID user.SessionID
	Token     user.RefreshToken
}

// Tokens issues signed access and refresh tokens and verifies refresh
// tokens (access tokens are verified by the platform's ports.AccessVerifier,
// for every context). The two kinds are distinct: a verifier of one rejects
// the other. VerifyRefresh fails with user.ErrSessionInvalid for any token
// that is malformed, wrongly signed, of the other kind, expired or not yet
// valid.
type Tokens interface {
	IssueAccess(c ports.AccessClaims) (string, error)
	// IssueRefresh is deterministic: the same claims give the same token, so a
	// session's current token can be handed out again within the grace period.
	IssueRefresh(c RefreshClaims) (string, error)
	VerifyRefresh(token string) (RefreshClaims, error)
}
