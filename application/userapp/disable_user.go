package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// DisableUser lets an operator disable an account: it can no longer start
// sessions, and those it has end at once.
type DisableUser struct {
	users    userports.Users
	sessions userports.Sessions
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// DisableResult says what disabling did.
type DisableResult struct {
	// AlreadyDisabled is true when the account was disabled before; then
	// nothing changed and no event was recorded.
	AlreadyDisabled bool
	// Revoked are the sessions it ended.
	Revoked []user.SessionID
}

// Do disables user uid with reason (zero: none given) and revokes every
// session of it, in one transaction with their events: one session.revoked
// (account_disabled) per session, then user.disabled. The revocations reach
// every instance's authenticator when they commit, and the sessions store
// refuses any session start from then on. It fails with user.ErrNotFound for
// an unknown user.
func (uc *DisableUser) Do(ctx context.Context, uid user.ID, reason user.DisableReason) (DisableResult, error) {
	now := uc.clock.Now()
	var out DisableResult
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		out = DisableResult{}
		changed := false
		if err := uc.users.Update(ctx, uid, func(u *user.User) error { changed = u.Disable(reason, now); return nil }); err != nil {
			return err
		}
		if !changed {
			out.AlreadyDisabled = true
			return nil
		}
		ended, err := uc.sessions.RevokeAll(ctx, uid, now)
		if err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		out.Revoked = ended
		return uc.log.record(ctx, append(sessionsRevoked(uid, ended, now, reasonAccountDisabled), userDisabled(uid, now))...)
	})
	return out, err
}
