package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// EnableUser lets an operator enable a disabled account again.
type EnableUser struct {
	users userports.Users
	tx    ports.Transactor
	clock ports.Clock
	log   *eventLog
}

// Do enables user uid, with its user.enabled event in the same transaction,
// and reports whether it was disabled (when it was not, nothing changes and
// no event is recorded). The sessions revoked when it was disabled stay
// revoked: the user logs in again. It fails with user.ErrNotFound for an
// unknown user.
func (uc *EnableUser) Do(ctx context.Context, uid user.ID) (bool, error) {
	now := uc.clock.Now()
	changed := false
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := uc.users.Update(ctx, uid, func(u *user.User) error { changed = u.Enable(now); return nil }); err != nil {
			return err
		}
		if !changed {
			return nil
		}
		return uc.log.record(ctx, userEnabled(uid, now))
	})
	return changed, err
}
