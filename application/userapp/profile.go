package userapp

import (
	"context"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// Profile reads the caller's own account.
type Profile struct{ users userports.Users }

// Do loads the caller's user in one statement; the authenticator already
// checked that the session is live. It fails with user.ErrNotFound when the
// account is gone.
func (uc *Profile) Do(ctx context.Context, p ports.Principal) (*user.User, error) {
	return uc.users.ByID(ctx, user.ID(p.UserID))
}
