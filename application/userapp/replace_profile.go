package userapp

import (
	"context"

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

// ReplaceProfile replaces the caller's whole profile.
type ReplaceProfile struct{ change *profileChanger }

// Do stores the replacement and returns the user as stored. It fails with
// user.ErrWrongPassword when CurrentPassword does not match,
// user.ErrUsernameTaken when another account holds the username, and
// user.ErrNotFound when the account is gone. A new password revokes every
// other session of the user in the same transaction; the caller's session
// stays signed in.
func (uc *ReplaceProfile) Do(ctx context.Context, p ports.Principal, in ReplaceInput) (ProfileChange, error) {
	return uc.change.apply(ctx, p, PatchInput{
		Username:        &in.Username,
		FullName:        &in.FullName,
		Password:        &in.Password,
		CurrentPassword: &in.CurrentPassword,
	})
}
