package ports

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrUnauthenticated means a request's access token is missing, malformed,
// wrongly signed, expired or not yet valid, or names a session that has
// ended. The HTTP layer answers 401 with a Bearer challenge.
var ErrUnauthenticated = errors.New("ports: not authenticated")

// Principal is who an authenticated request acts for: the user and the
// session of its access token. One authenticator produces it for the bearer
// routes of every bounded context, after checking that the session is live,
// so use cases that receive a Principal do not check the session again.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
}

// AccessClaims is what an access token asserts.
type AccessClaims struct {
	Principal Principal
	// TokenID is the token's jti.
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessVerifier checks access tokens: signature, type, issuer, audience and
// times. It fails with an error wrapping ErrUnauthenticated that never
// contains the token. It does not know whether the session is still live.
type AccessVerifier interface {
	VerifyAccess(token string) (AccessClaims, error)
}

// Revocations knows which sessions have ended: revoked (logout, reuse,
// password change, the user's own session list, deletion of the account),
// so that an access token of such a session is refused at once, before it
// expires, on every instance. Failures to reach its store wrap
// ErrUnavailable. Safe for concurrent use.
type Revocations interface {
	// Ended reports whether p's session has ended, or does not belong to
	// p's user.
	Ended(ctx context.Context, p Principal) (bool, error)
}
