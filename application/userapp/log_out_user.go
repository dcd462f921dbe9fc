package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// LogOutUser lets an operator sign a user out everywhere.
type LogOutUser struct {
	users    userports.Users
	sessions userports.Sessions
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// Do revokes every session of user uid that is not yet revoked, with one
// session.revoked (logout: each session was logged out, by an operator
// rather than from its device) per session in the same transaction, and
// returns their ids. The account stays usable: its owner may log in again.
// It fails with user.ErrNotFound for an unknown user.
func (uc *LogOutUser) Do(ctx context.Context, uid user.ID) ([]user.SessionID, error) {
	now := uc.clock.Now()
	var ended []user.SessionID
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if _, err := uc.users.ByID(ctx, uid); err != nil {
			return err
		}
		var err error
		if ended, err = uc.sessions.RevokeAll(ctx, uid, now); err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		return uc.log.record(ctx, sessionsRevoked(uid, ended, now, reasonLogout)...)
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}
