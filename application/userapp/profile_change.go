package userapp

import (
	"context"
	"errors"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// ProfileChange is the outcome of PUT or PATCH.
type ProfileChange struct {
	// User is the account as stored afterwards.
	User *user.User
	// PasswordChanged is true when a new password was stored and the user's
	// other sessions were revoked.
	PasswordChanged bool
}

// profileChanger is the one implementation behind PUT and PATCH.
type profileChanger struct {
	users    userports.Users
	sessions userports.Sessions
	tx       ports.Transactor
	hasher   userports.PasswordHasher
	clock    ports.Clock
	log      *eventLog
}

// errUnchanged ends an Update that would store the values already stored,
// so that nothing is written (updated_at stays) and no event is recorded.
var errUnchanged = errors.New("userapp: nothing to change")

// apply checks the current password when given, hashes a new password, and
// then, in one transaction, stores the fields that differ from the stored
// ones with their events: user.updated naming the changed fields, and for a
// new password user.password_changed and one session.revoked
// (password_changed) per other live session it ends. A request whose values
// are all already stored writes nothing.
func (pc *profileChanger) apply(ctx context.Context, p ports.Principal, in PatchInput) (ProfileChange, error) {
	if in.Password != nil && in.CurrentPassword == nil {
		return ProfileChange{}, user.ErrPasswordRequired
	}
	uid, sid := user.ID(p.UserID), user.SessionID(p.SessionID)
	current, err := pc.users.ByID(ctx, uid)
	if err != nil {
		return ProfileChange{}, err
	}
	if in.CurrentPassword != nil {
		ok, _, err := pc.hasher.Matches(ctx, current.PasswordHash(), *in.CurrentPassword)
		if errors.Is(err, ports.ErrBusy) || ctx.Err() != nil {
			return ProfileChange{}, fmt.Errorf("check current password: %w", err)
		}
		if err != nil { // a stored hash that cannot be verified matches nothing
			return ProfileChange{}, fmt.Errorf("%w: stored hash unusable: %v", user.ErrWrongPassword, err)
		}
		if !ok {
			return ProfileChange{}, user.ErrWrongPassword
		}
	}
	// Hash before the transaction: slow hashing never holds a connection.
	passwordChanged := in.Password != nil && in.Password.Reveal() != in.CurrentPassword.Reveal()
	var newHash user.PasswordHash
	if passwordChanged {
		if newHash, err = pc.hasher.Hash(ctx, *in.Password); err != nil {
			return ProfileChange{}, fmt.Errorf("hash password: %w", err)
		}
	}
	if in.Username == nil && in.FullName == nil && !passwordChanged {
		return ProfileChange{User: current}, nil
	}
	var updated *user.User
	err = pc.tx.Atomically(ctx, func(ctx context.Context) error {
		now := pc.clock.Now()
		var changed []string
		err := pc.users.Update(ctx, uid, func(u *user.User) error {
			if in.Username != nil && in.Username.String() != u.Username().String() {
				u.Rename(*in.Username, now)
				changed = append(changed, "username")
			}
			if in.FullName != nil && *in.FullName != u.FullName() {
				u.SetFullName(*in.FullName, now)
				changed = append(changed, "full_name")
			}
			if passwordChanged {
				u.SetPasswordHash(newHash, now)
			}
			copied := *u
			updated = &copied
			if len(changed) == 0 && !passwordChanged {
				return errUnchanged
			}
			return nil
		})
		if errors.Is(err, errUnchanged) {
			return nil
		}
		if err != nil {
			return err
		}
		var events []change
		if len(changed) > 0 {
			events = append(events, userUpdated(updated, changed))
		}
		if passwordChanged {
			ended, err := pc.sessions.RevokeOthers(ctx, uid, sid, now)
			if err != nil {
				return err
			}
			events = append(events, userPasswordChanged(uid, now))
			events = append(events, sessionsRevoked(uid, ended, now, reasonPasswordChanged)...)
		}
		return pc.log.record(ctx, events...)
	})
	if err != nil {
		return ProfileChange{}, err
	}
	return ProfileChange{User: updated, PasswordChanged: passwordChanged}, nil
}
