package userapp

import (
	"context"
	"fmt"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Settings are the token and session lifetimes the use cases apply.
type Settings struct {
	// AccessTTL is the access token's lifetime.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token's lifetime and the session's idle lifetime.
	RefreshTTL time.Duration
	// SessionMaxAge is the session's absolute lifetime, whatever its refreshes.
	SessionMaxAge time.Duration
	// ReuseGrace is how long a just-retired refresh token still gets the
	// session's current one; 0 turns the grace off.
	ReuseGrace time.Duration
}

// Tokens is what a signed-in client receives.
type Tokens struct {
	Access          string
	AccessExpiresIn time.Duration
	Refresh         string
	// RefreshMaxAge is how long the refresh cookie should be kept.
	RefreshMaxAge time.Duration
	UserID        user.ID
	SessionID     user.SessionID
}

// Caller is the verified identity behind an access token.
type Caller struct {
	UserID    user.ID
	SessionID user.SessionID
}

// SessionIssuer starts sessions and signs their tokens. SignUp, LogIn and
// Refresh share it; it is safe for concurrent use.
type SessionIssuer struct {
	sessions ports.Sessions
	tokens   ports.Tokens
	clock    ports.Clock
	ids      ports.IDs
	settings Settings
}

// NewSessionIssuer builds a SessionIssuer.
func NewSessionIssuer(sessions ports.Sessions, tokens ports.Tokens, clock ports.Clock, ids ports.IDs, s Settings) *SessionIssuer {
	return &SessionIssuer{sessions: sessions, tokens: tokens, clock: clock, ids: ids, settings: s}
}

// start opens a new session for uid and issues its tokens. Called inside the
// caller's transaction when the session must commit with other writes.
func (si *SessionIssuer) start(ctx context.Context, uid user.ID) (Tokens, error) {
	now := si.clock.Now()
	s := user.Session{
		ID:        user.SessionID(si.ids.NewUUID()),
		UserID:    uid,
		CreatedAt: now,
		ExpiresAt: now.Add(si.settings.SessionMaxAge),
		Current:   si.nextRefresh(now),
	}
	if err := si.sessions.Start(ctx, s); err != nil {
		return Tokens{}, fmt.Errorf("start session: %w", err)
	}
	return si.tokensFor(s, now)
}

func (si *SessionIssuer) nextRefresh(now time.Time) user.RefreshToken {
	return user.RefreshToken{ID: user.TokenID(si.ids.NewUUID()), IssuedAt: now, ExpiresAt: now.Add(si.settings.RefreshTTL)}
}

// tokensFor signs a fresh access token and the session's current refresh token.
func (si *SessionIssuer) tokensFor(s user.Session, now time.Time) (Tokens, error) {
	access, err := si.tokens.IssueAccess(ports.AccessClaims{
		UserID:    s.UserID,
		SessionID: s.ID,
		TokenID:   fmt.Sprint(user.TokenID(si.ids.NewUUID())),
		IssuedAt:  now,
		ExpiresAt: now.Add(si.settings.AccessTTL),
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := si.tokens.IssueRefresh(ports.RefreshClaims{UserID: s.UserID, SessionID: s.ID, Token: s.Current})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Tokens{
		Access:          access,
		AccessExpiresIn: si.settings.AccessTTL,
		Refresh:         refresh,
		RefreshMaxAge:   minTime(s.Current.ExpiresAt, s.ExpiresAt).Sub(now),
		UserID:          s.UserID,
		SessionID:       s.ID,
	}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
