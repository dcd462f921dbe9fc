package userapp

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

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

// sessionIssuer starts sessions and signs their tokens; SignUp, LogIn and
// Refresh share it. It is safe for concurrent use.
type sessionIssuer struct {
	sessions userports.Sessions
	tokens   userports.Tokens
	clock    ports.Clock
	ids      ports.IDs
	log      *eventLog
	settings Settings
}

// start opens a new session for uid, used from client, and issues its
// tokens. A user with SessionsPerUser live sessions loses the least recently
// used one to it. It records session.started, and session.revoked (evicted)
// for each session it made room by, so it is called inside the caller's
// transaction: the session, the evictions and their events commit together.
func (si *sessionIssuer) start(ctx context.Context, uid user.ID, client user.Client) (Tokens, error) {
	now := si.clock.Now()
	s := user.Session{
		ID:         user.SessionID(si.ids.NewUUID()),
		UserID:     uid,
		CreatedAt:  now,
		ExpiresAt:  now.Add(si.settings.SessionMaxAge),
		Current:    si.nextRefresh(now),
		LastUsedAt: now,
		Client:     client,
	}
	evicted, err := si.sessions.Start(ctx, s, si.settings.SessionsPerUser)
	if err != nil {
		return Tokens{}, fmt.Errorf("start session: %w", err)
	}
	if err := si.log.record(ctx, append([]change{sessionStarted(s)}, sessionsRevoked(uid, evicted, now, reasonEvicted)...)...); err != nil {
		return Tokens{}, err
	}
	return si.tokensFor(s, now)
}

func (si *sessionIssuer) nextRefresh(now time.Time) user.RefreshToken {
	return user.RefreshToken{ID: user.TokenID(si.ids.NewUUID()), IssuedAt: now, ExpiresAt: now.Add(si.settings.RefreshTTL)}
}

// tokensFor signs a fresh access token and the session's current refresh
// token. The access token never outlives the session's absolute end, so no
// access token of an ended session is ever live.
func (si *sessionIssuer) tokensFor(s user.Session, now time.Time) (Tokens, error) {
	expires := minTime(now.Add(si.settings.AccessTTL), s.ExpiresAt)
	if expires.Sub(now) < time.Second { // tokens count whole seconds
		return Tokens{}, user.ErrSessionInvalid
	}
	access, err := si.tokens.IssueAccess(ports.AccessClaims{
		Principal: ports.Principal{UserID: uuid.UUID(s.UserID), SessionID: uuid.UUID(s.ID)},
		TokenID:   uuid.UUID(si.ids.NewUUID()).String(),
		IssuedAt:  now,
		ExpiresAt: expires,
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := si.tokens.IssueRefresh(userports.RefreshClaims{UserID: s.UserID, SessionID: s.ID, Token: s.Current})
	if err != nil {
		return Tokens{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Tokens{
		Access:          access,
		AccessExpiresIn: expires.Sub(now),
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
