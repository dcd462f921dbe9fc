package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// DeleteAccount removes the caller's account and ends every session of it.
type DeleteAccount struct {
	users    userports.Users
	sessions userports.Sessions
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// Do ends every session of the caller's user and deletes the user, in one
// transaction with their events: one session.revoked (account_deleted) per
// session it ended, then user.deleted. The store's cascades delete what
// belongs to the account in other contexts (chats) in the same transaction.
// It fails with user.ErrNotFound when the account is already gone.
func (uc *DeleteAccount) Do(ctx context.Context, p ports.Principal) error {
	uid := user.ID(p.UserID)
	now := uc.clock.Now()
	return uc.tx.Atomically(ctx, func(ctx context.Context) error {
		ended, err := uc.sessions.RevokeAll(ctx, uid, now)
		if err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		if err := uc.users.Delete(ctx, uid); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		return uc.log.record(ctx, append(sessionsRevoked(uid, ended, now, reasonAccountDeleted), userDeleted(uid, now))...)
	})
}
