package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// ListSessions shows the caller where their account is signed in.
type ListSessions struct {
	sessions userports.Sessions
	clock    ports.Clock
}

// Do returns every live session of the caller's user, newest first, in one
// statement; the caller's own session (p.SessionID) is among them.
func (uc *ListSessions) Do(ctx context.Context, p ports.Principal) ([]user.Session, error) {
	return uc.sessions.List(ctx, user.ID(p.UserID), uc.clock.Now())
}
