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
	// List returns at most q.Limit users matching q, ordered by
	// Username.Key, for operators.
	List(ctx context.Context, q UserQuery) ([]*user.User, error)
	// Update loads the user, applies change and stores the result in one
	// transaction, holding the row so concurrent Updates serialise; if change
	// fails, nothing is stored and its error is returned.
	Update(ctx context.Context, id user.ID, change func(*user.User) error) error
	// Delete removes the user and, through the store's cascades, what belongs
	// to it (the chats of the chat context). Its sessions stay behind as
	// revoked tombstones with no user and nothing personal (no client, no
	// name), so every instance keeps refusing their access tokens (call
	// Sessions.RevokeAll first), until Sessions.RemoveEnded removes them.
	// Update and Delete of an unknown id fail with user.ErrNotFound.
	Delete(ctx context.Context, id user.ID) error
}

// UserState selects users by whether they are disabled.
type UserState int

// The states a UserQuery selects.
const (
	StateAny UserState = iota
	StateActive
	StateDisabled
)

// UserQuery selects a page of users. Prefix and After are Username.Key
// values (lower case, only the characters a username may hold, so no
// pattern character); the zero value of each field selects everything.
type UserQuery struct {
	// Prefix keeps users whose Username.Key starts with it.
	Prefix string
	// After keeps users whose Username.Key sorts after it: the key of the
	// previous page's last user.
	After string
	State UserState
	// Limit is the most users returned; it must be at least 1.
	Limit int
}

// Sessions keeps sessions and their refresh-token state. Every method is
// race-safe across processes sharing one database: rotation is a conditional
// write, not a read-then-write. A session is live at now while it is not
// revoked, not past its absolute end and its refresh token has not expired.
// Unknown sessions fail with user.ErrSessionInvalid; failures to reach the
// store wrap ports.ErrUnavailable. Every revocation reaches
// ports.Revocations of every instance when its transaction commits.
type Sessions interface {
	// Start stores a new session and, in the same transaction, revokes the
	// user's least recently used live sessions (oldest LastUsedAt first) so
	// that, with s, at most limit of them are live at s.CreatedAt; it
	// returns the ids it revoked. It fails with user.ErrAccountDisabled,
	// storing nothing, when the user is disabled when it runs: it reads
	// that under the lock that serialises it with Users.Update, so a
	// session never starts for an account whose disabling committed. Concurrent Starts for one user, on any
	// number of instances, serialise: however many run at once, no more than
	// limit sessions are left live. limit < 1 means no limit. For an unknown
	// user it fails with user.ErrNotFound.
	Start(ctx context.Context, s user.Session, limit int) ([]user.SessionID, error)
	// Rotate makes next the session's current refresh token and from its
	// previous one, recording now as the rotation time and the session's
	// last use, and client as the device it is used from, but only if from
	// is still current and the session is live at now. It returns the
	// session as stored afterwards and whether this call rotated it; when it
	// did not, the caller judges the replay with Session.JudgeReplay.
	Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time, client user.Client) (user.Session, bool, error)
	// List returns the sessions of the user that are live at now, newest
	// (CreatedAt) first.
	List(ctx context.Context, uid user.ID, now time.Time) ([]user.Session, error)
	// LastStarts returns, for each of uids that has any session kept, the
	// latest CreatedAt among them (ended sessions count until RemoveEnded
	// removes them); users with none are absent.
	LastStarts(ctx context.Context, uids []user.ID) (map[user.ID]time.Time, error)
	// Rename sets the name of session sid of user uid, if it is live at now,
	// and returns the session as stored afterwards. It fails with
	// user.ErrSessionNotFound when sid is not a live session of uid.
	Rename(ctx context.Context, uid user.ID, sid user.SessionID, name user.SessionName, now time.Time) (user.Session, error)
	// Revoke ends session sid of user uid at now. It fails with
	// user.ErrSessionInvalid when no session with that id is live at now
	// for uid (unknown, another user's, already revoked or expired), so a
	// logout can say so.
	Revoke(ctx context.Context, uid user.ID, sid user.SessionID, now time.Time) error
	// RevokeOthers ends every session of the user that is live at now,
	// except keep, and returns the ids it ended.
	RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) ([]user.SessionID, error)
	// RevokeAll ends every session of the user that is not yet revoked,
	// expired ones included, and returns the ids it ended. A Start for the
	// same user either commits before it (and is ended by it) or waits for
	// its transaction, so a deletion that calls RevokeAll and then
	// Users.Delete leaves no live session behind.
	RevokeAll(ctx context.Context, uid user.ID, now time.Time) ([]user.SessionID, error)
	// RemoveEnded deletes at most limit sessions that ended before cutoff
	// (revoked, past their absolute end, or with their refresh token
	// expired), a deleted account's tombstones included, and returns how
	// many it deleted. Concurrent calls, on any number of instances, delete
	// disjoint rows without waiting for one another.
	RemoveEnded(ctx context.Context, cutoff time.Time, limit int) (int, error)
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

// HashChecker tells whether a hash made elsewhere (an import) could be
// verified: a scheme the hasher verifies, well formed, its cost within the
// bounds that refuse planted hashes. It does no hashing work. Its error
// names the problem, never the hash.
type HashChecker interface {
	CheckStored(h user.PasswordHash) error
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
