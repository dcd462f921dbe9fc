package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// RenameSession names one of the caller's sessions ("Work laptop").
type RenameSession struct {
	sessions userports.Sessions
	clock    ports.Clock
}

// Do gives session sid the name and returns it as stored. It fails with
// user.ErrSessionNotFound when sid is not a live session of the caller's
// user. A name is the user's own label, not a change other services hear
// of: the contract has no event for it, and Do records none.
func (uc *RenameSession) Do(ctx context.Context, p ports.Principal, sid user.SessionID, name user.SessionName) (user.Session, error) {
	return uc.sessions.Rename(ctx, user.ID(p.UserID), sid, name, uc.clock.Now())
}
