package ports

import (
	"context"
	"errors"
	"time"

	"example.com/usersvc/domain/user"
)

// ErrUnavailable wraps any failure to reach a backing service (refused, timed
// out, pool exhausted). Adapters wrap it; the HTTP layer answers 503.
var ErrUnavailable = errors.New("ports: dependency unavailable")

// ErrBusy means a bounded resource (the password-hashing slots) could not be
// had within its wait; the HTTP layer answers 503 with Retry-After.
var ErrBusy = errors.New("ports: busy, try again later")

// Users keeps accounts. Lookups fail with user.ErrNotFound; Add and Update fail
// with user.ErrUsernameTaken when another account holds the same Username.Key.
// Failures to reach the store wrap ErrUnavailable. Safe for concurrent use.
type Users interface {
	// Add stores a new user.
	Add(ctx context.Context, u *user.User) error
	// ByUsername finds the user whose Username.Key equals name.Key().
	ByUsername(ctx context.Context, name user.Username) (*user.User, error)
	// BySession loads user id, in the same round trip checking that session sid
	// belongs to that user and is live at now; otherwise it fails with
	// user.ErrSessionInvalid.
	BySession(ctx context.Context, id user.ID, sid user.SessionID, now time.Time) (*user.User, error)
	// Update loads the user, applies change and stores the result in one
	// transaction, holding the row so concurrent Updates serialise; if change
	// fails, nothing is stored and its error is returned.
	Update(ctx context.Context, id user.ID, change func(*user.User) error) error
	// Delete removes the user and, through the store's cascade, its sessions.
	// Update and Delete of an unknown id fail with user.ErrNotFound.
	Delete(ctx context.Context, id user.ID) error
}

// Sessions keeps sessions and their refresh-token state. Every method is
// race-safe across processes sharing one database: rotation is a conditional
// write, not a read-then-write. Unknown sessions fail with
// user.ErrSessionInvalid; failures to reach the store wrap ErrUnavailable.
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
	// RevokeOthers ends every live session of the user except keep.
	RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) error
}

// Transactor runs fn so that every store call made with the context it is
// given commits together or not at all. fn's error rolls back and is returned.
// Called again inside fn, it nests: an inner failure undoes only the inner work.
type Transactor interface {
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// PasswordHasher hashes and checks passwords. Implementations bound how many
// hashes run at once and fail with ErrBusy when no slot frees in time.
type PasswordHasher interface {
	// Hash derives a new encoded hash of p with a fresh random salt.
	Hash(ctx context.Context, p user.Password) (user.PasswordHash, error)
	// Matches reports whether p matches h in constant time. needsRehash is true
	// when h is of an older scheme or weaker parameters than the current ones.
	// A hash that cannot be parsed, or whose cost is out of bounds, is an error.
	Matches(ctx context.Context, h user.PasswordHash, p user.Password) (ok, needsRehash bool, err error)
}

// AccessClaims is what an access token asserts.
type AccessClaims struct {
	UserID    user.ID
	SessionID user.SessionID
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RefreshClaims is what a refresh token asserts.
type RefreshClaims struct {
	UserID    user.ID
	SessionID user.SessionID
	Token     user.RefreshToken
}

// Tokens issues and verifies signed access and refresh tokens. The two kinds
// are distinct: a verifier of one rejects the other. Verify methods fail with
// user.ErrSessionInvalid for any token that is malformed, wrongly signed, of
// the other kind, expired or not yet valid.
type Tokens interface {
	IssueAccess(c AccessClaims) (string, error)
	VerifyAccess(token string) (AccessClaims, error)
	// IssueRefresh is deterministic: the same claims give the same token, so a
	// session's current token can be handed out again within the grace period.
	IssueRefresh(c RefreshClaims) (string, error)
	VerifyRefresh(token string) (RefreshClaims, error)
}

// Clock tells the time; use cases never call time.Now.
type Clock interface{ Now() time.Time }

// IDs makes new unique identifiers (UUIDv7 in production).
type IDs interface{ NewUUID() [16]byte }
