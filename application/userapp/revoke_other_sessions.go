package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// RevokeOtherSessions signs the caller out everywhere else.
type RevokeOtherSessions struct {
	sessions userports.Sessions
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// Do revokes every live session of the caller's user except the caller's
// own, with one session.revoked (revoked_by_user) event each in the same
// transaction, and returns how many it revoked. The revocations reach every
// instance's authenticator when they commit.
func (uc *RevokeOtherSessions) Do(ctx context.Context, p ports.Principal) (int, error) {
	uid, now := user.ID(p.UserID), uc.clock.Now()
	var ended []user.SessionID
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		var err error
		if ended, err = uc.sessions.RevokeOthers(ctx, uid, user.SessionID(p.SessionID), now); err != nil {
			return err
		}
		return uc.log.record(ctx, sessionsRevoked(uid, ended, now, reasonRevokedByUser)...)
	})
	if err != nil {
		return 0, err
	}
	return len(ended), nil
}
