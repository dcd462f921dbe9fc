package userapp

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// RevokeSession signs one of the caller's other sessions out ("sign out
// that laptop").
type RevokeSession struct {
	sessions userports.Sessions
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// Do revokes session sid of the caller's user, with its session.revoked
// (revoked_by_user) event in the same transaction. Like a logout, the
// revocation reaches every instance's authenticator when it commits, so the
// session's access and refresh tokens stop working at once. It fails with
// user.ErrCurrentSession for the caller's own session (logout ends that)
// and with user.ErrSessionNotFound when sid is not a live session of the
// caller's user.
func (uc *RevokeSession) Do(ctx context.Context, p ports.Principal, sid user.SessionID) error {
	if uuid.UUID(sid) == p.SessionID {
		return user.ErrCurrentSession
	}
	uid, now := user.ID(p.UserID), uc.clock.Now()
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := uc.sessions.Revoke(ctx, uid, sid, now); err != nil {
			return err
		}
		return uc.log.record(ctx, sessionsRevoked(uid, []user.SessionID{sid}, now, reasonRevokedByUser)...)
	})
	if errors.Is(err, user.ErrSessionInvalid) {
		return user.ErrSessionNotFound
	}
	return err
}
