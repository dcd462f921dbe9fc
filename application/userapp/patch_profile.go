package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// PatchInput is a validated partial update (PATCH): a nil field is left as
// it is; FullName pointing at the zero FullName clears it. CurrentPassword is
// required when Password is set and checked whenever it is given.
type PatchInput struct {
	Username        *user.Username
	FullName        *user.FullName
	Password        *user.Password
	CurrentPassword *user.Password
}

// PatchProfile changes only the fields a request names.
type PatchProfile struct{ change *profileChanger }

// Do applies the fields present and returns the user as stored; an empty
// PatchInput changes nothing. Errors are those of ReplaceProfile.Do, plus
// user.ErrPasswordRequired when Password is set without CurrentPassword.
func (uc *PatchProfile) Do(ctx context.Context, p ports.Principal, in PatchInput) (ProfileChange, error) {
	return uc.change.apply(ctx, p, in)
}
