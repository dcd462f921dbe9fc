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
}

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
		err := pc.users.Update(ctx, uid, func(u *user.User) error {
			now := pc.clock.Now()
			if in.Username != nil {
				u.Rename(*in.Username, now)
			}
			if in.FullName != nil {
				u.SetFullName(*in.FullName, now)
			}
			if passwordChanged {
				u.SetPasswordHash(newHash, now)
			}
			copied := *u
			updated = &copied
			return nil
		})
		if err != nil {
			return err
		}
		if passwordChanged {
			_, err := pc.sessions.RevokeOthers(ctx, uid, sid, pc.clock.Now())
			return err
		}
		return nil
	})
	if err != nil {
		return ProfileChange{}, err
	}
	return ProfileChange{User: updated, PasswordChanged: passwordChanged}, nil
}
