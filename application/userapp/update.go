package userapp

import (
	"context"
	"errors"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// ReplaceInput is a validated full replacement of the profile (PUT). A zero
// FullName clears the full name.
type ReplaceInput struct {
	Username        user.Username
	FullName        user.FullName
	Password        user.Password
	CurrentPassword user.Password
}

// PatchInput is a validated partial update (PATCH): a nil field is left as
// it is; FullName pointing at the zero FullName clears it. CurrentPassword is
// required when Password is set and checked whenever it is given.
type PatchInput struct {
	Username        *user.Username
	FullName        *user.FullName
	Password        *user.Password
	CurrentPassword *user.Password
}

// ReplaceProfile replaces the caller's whole profile.
type ReplaceProfile struct{ change *profileChanger }

// NewReplaceProfile builds the ReplaceProfile use case.
func NewReplaceProfile(users ports.Users, sessions ports.Sessions, tx ports.Transactor, hasher ports.PasswordHasher, clock ports.Clock) *ReplaceProfile {
	return &ReplaceProfile{change: &profileChanger{users: users, sessions: sessions, tx: tx, hasher: hasher, clock: clock}}
}

// Do stores the replacement and returns the user as stored. It fails with
// user.ErrWrongPassword when CurrentPassword does not match,
// user.ErrUsernameTaken when another account holds the username, and
// user.ErrSessionInvalid when the caller's session is no longer live.
// A new password revokes every other session of the user in the same
// transaction; the caller's session stays signed in.
func (uc *ReplaceProfile) Do(ctx context.Context, c Caller, in ReplaceInput) (ProfileChange, error) {
	return uc.change.apply(ctx, c, PatchInput{
		Username:        &in.Username,
		FullName:        &in.FullName,
		Password:        &in.Password,
		CurrentPassword: &in.CurrentPassword,
	})
}

// PatchProfile changes only the fields a request names.
type PatchProfile struct{ change *profileChanger }

// NewPatchProfile builds the PatchProfile use case.
func NewPatchProfile(users ports.Users, sessions ports.Sessions, tx ports.Transactor, hasher ports.PasswordHasher, clock ports.Clock) *PatchProfile {
	return &PatchProfile{change: &profileChanger{users: users, sessions: sessions, tx: tx, hasher: hasher, clock: clock}}
}

// Do applies the fields present and returns the user as stored; an empty
// PatchInput changes nothing. Errors are those of ReplaceProfile.Do, plus
// user.ErrPasswordRequired when Password is set without CurrentPassword.
func (uc *PatchProfile) Do(ctx context.Context, c Caller, in PatchInput) (ProfileChange, error) {
	return uc.change.apply(ctx, c, in)
}

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
	users    ports.Users
	sessions ports.Sessions
	tx       ports.Transactor
	hasher   ports.PasswordHasher
	clock    ports.Clock
}

func (pc *profileChanger) apply(ctx context.Context, c Caller, in PatchInput) (ProfileChange, error) {
	if in.Password != nil && in.CurrentPassword == nil {
		return ProfileChange{}, user.ErrPasswordRequired
	}
	current, err := pc.users.BySession(ctx, c.UserID, c.SessionID, pc.clock.Now())
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
		err := pc.users.Update(ctx, c.UserID, func(u *user.User) error {
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
			return pc.sessions.RevokeOthers(ctx, c.UserID, c.SessionID, pc.clock.Now())
		}
		return nil
	})
	if err != nil {
		return ProfileChange{}, err
	}
	return ProfileChange{User: updated, PasswordChanged: passwordChanged}, nil
}
