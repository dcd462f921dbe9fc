package userapp

import (
	"context"
	"fmt"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// Refresh trades a refresh token for a new access token and a new refresh
// token, retiring the presented one.
type Refresh struct {
	sessions userports.Sessions
	tokens   userports.Tokens
	tx       ports.Transactor
	clock    ports.Clock
	issue    *sessionIssuer
	log      *eventLog
	grace    time.Duration
}

// Do rotates the session of refreshToken, recording the rotation as the
// session's last use, from client, in the same single write. A rotation is
// no event of the contract's: it records none. The token that a concurrent
// refresh retired within the grace period gets the session's current
// refresh token again. Any other stale token is theft: the session is
// revoked, with its session.revoked (reuse_detected) event in the same
// transaction, and Do fails with user.ErrRefreshReused (which is
// user.ErrSessionInvalid). Invalid, expired and revoked tokens fail with
// user.ErrSessionInvalid. With ErrRefreshReused, the returned Tokens carry
// only UserID and SessionID of the revoked session, for the audit trail.
func (uc *Refresh) Do(ctx context.Context, refreshToken string, client user.Client) (Tokens, error) {
	claims, err := uc.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	now := uc.clock.Now()
	next := uc.issue.nextRefresh(now)
	s, rotated, err := uc.sessions.Rotate(ctx, claims.SessionID, claims.Token.ID, next, now, client)
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
		err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
			if err := uc.sessions.Revoke(ctx, s.UserID, s.ID, now); err != nil {
				return err
			}
			return uc.log.record(ctx, sessionsRevoked(s.UserID, []user.SessionID{s.ID}, now, reasonReuseDetected)...)
		})
		if err != nil {
			return Tokens{}, fmt.Errorf("revoke reused session: %w", err)
		}
		return Tokens{UserID: s.UserID, SessionID: s.ID}, user.ErrRefreshReused
	default:
		return Tokens{}, user.ErrSessionInvalid
	}
}
