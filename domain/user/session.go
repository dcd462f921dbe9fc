package user

import (
	"time"

	"github.com/google/uuid"
)

// SessionID identifies a session: one signup or login and its refreshes.
type SessionID uuid.UUID

// String returns the canonical UUID text.
func (id SessionID) String() string { return uuid.UUID(id).String() }

// ParseSessionID reads a UUID in canonical text form.
func ParseSessionID(s string) (SessionID, error) {
	u, err := uuid.Parse(s)
	return SessionID(u), err
}

// TokenID identifies one refresh token of a session (its JWT "jti").
type TokenID uuid.UUID

// String returns the canonical UUID text.
func (id TokenID) String() string { return uuid.UUID(id).String() }

// ParseTokenID reads a UUID in canonical text form.
func ParseTokenID(s string) (TokenID, error) {
	u, err := uuid.Parse(s)
	return TokenID(u), err
}

// RefreshToken is the server-side record of a session's live refresh token:
// enough to rebuild the identical signed token within the grace period.
type RefreshToken struct {
	ID        TokenID
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Session is a signed-in device. It has one live refresh token at a time; the
// one it replaced is remembered with the time of its retirement, so a
// concurrent refresh within the grace period can be told from a theft.
type Session struct {
	ID     SessionID
	UserID ID
	// CreatedAt is when the session started (signup or login).
	CreatedAt time.Time
	// ExpiresAt is the absolute end of the session, whatever its refreshes.
	ExpiresAt time.Time
	Current   RefreshToken
	// Previous is the zero TokenID until the first rotation.
	Previous  TokenID
	RotatedAt time.Time
	// RevokedAt is the zero time while the session is not revoked.
	RevokedAt time.Time
	// LastUsedAt is when the session started or was last refreshed; the
	// session used least recently is the first to go when a user has too
	// many.
	LastUsedAt time.Time
	// Client is the device that started or last refreshed the session.
	Client Client
	// Name is what the user called the session; zero until named.
	Name SessionName
}

// LiveUntil is when the session ends unless it is refreshed first: when its
// refresh token expires, but never past its absolute end.
func (s Session) LiveUntil() time.Time {
	if s.Current.ExpiresAt.Before(s.ExpiresAt) {
		return s.Current.ExpiresAt
	}
	return s.ExpiresAt
}

// Live reports whether the session can still be used at now: not revoked, not
// past its absolute end, and its refresh token not expired.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && now.Before(s.Current.ExpiresAt)
}

// Replay says what a refresh token that is no longer current means.
type Replay int

const (
	// ReplayDead: the session is revoked or expired; refuse.
	ReplayDead Replay = iota
	// ReplayWithinGrace: the token was retired by a concurrent refresh moments
	// ago; answer with the session's current token.
	ReplayWithinGrace
	// ReplayTheft: an older or long-retired token; revoke the whole session.
	ReplayTheft
)

// JudgeReplay classifies presenting token, which is not the session's current
// refresh token, at now with the given grace period.
func (s Session) JudgeReplay(token TokenID, now time.Time, grace time.Duration) Replay {
	if !s.Live(now) {
		return ReplayDead
	}
	if grace > 0 && token == s.Previous && !s.RotatedAt.IsZero() && now.Sub(s.RotatedAt) <= grace {
		return ReplayWithinGrace
	}
	return ReplayTheft
}
