package userapp

import (
	"context"
	"fmt"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Refresh trades a refresh token for a new access token and a new refresh
// token, retiring the presented one.
type Refresh struct {
	sessions ports.Sessions
	tokens   ports.Tokens
	clock    ports.Clock
	issue    *SessionIssuer
	grace    time.Duration
}

// NewRefresh builds the Refresh use case.
func NewRefresh(sessions ports.Sessions, tokens ports.Tokens, clock ports.Clock, issue *SessionIssuer, s Settings) *Refresh {
	return &Refresh{sessions: sessions, tokens: tokens, clock: clock, issue: issue, grace: s.ReuseGrace}
}

// Do rotates the session of refreshToken. The token that a concurrent refresh
// retired within the grace period gets the session's current refresh token
// again. Any other stale token is theft: the session is revoked and Do fails
// with user.ErrRefreshReused (which is user.ErrSessionInvalid). Invalid,
// expired and revoked tokens fail with user.ErrSessionInvalid. With
// ErrRefreshReused, the returned Tokens carry only UserID and SessionID of the
// revoked session, for the audit trail.
func (uc *Refresh) Do(ctx context.Context, refreshToken string) (Tokens, error) {
	claims, err := uc.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	now := uc.clock.Now()
	next := uc.issue.nextRefresh(now)
	s, rotated, err := uc.sessions.Rotate(ctx, claims.SessionID, claims.Token.ID, next, now)
	if err != nil {
		return Tokens{}, err
	}
	if s.UserID != claims.UserID {
		return Tokens{}, user.ErrSessionInvalid
	}
	if rotated {
		return uc.issue.tokensFor(s, now)
	}
	switch s.JudgeReplay(claims.Token.ID, now, uc.grace) {
	case user.ReplayWithinGrace:
		return uc.issue.tokensFor(s, now)
	case user.ReplayTheft:
		if err := uc.sessions.Revoke(ctx, s.ID, now); err != nil {
			return Tokens{}, fmt.Errorf("revoke reused session: %w", err)
		}
		return Tokens{UserID: s.UserID, SessionID: s.ID}, user.ErrRefreshReused
	default:
		return Tokens{}, user.ErrSessionInvalid
	}
}

// LogOut ends the session of a refresh token.
type LogOut struct {
	sessions ports.Sessions
	tokens   ports.Tokens
	clock    ports.Clock
}

// NewLogOut builds the LogOut use case.
func NewLogOut(sessions ports.Sessions, tokens ports.Tokens, clock ports.Clock) *LogOut {
	return &LogOut{sessions: sessions, tokens: tokens, clock: clock}
}

// Do revokes the session that refreshToken belongs to and returns who it
// was. It fails with user.ErrSessionInvalid when the token is invalid or its
// session is no longer live.
func (uc *LogOut) Do(ctx context.Context, refreshToken string) (Caller, error) {
	claims, err := uc.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return Caller{}, err
	}
	if err := uc.sessions.Revoke(ctx, claims.SessionID, uc.clock.Now()); err != nil {
		return Caller{}, err
	}
	return Caller{UserID: claims.UserID, SessionID: claims.SessionID}, nil
}
