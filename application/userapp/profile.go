package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Authenticate verifies an access token. It does not touch the store: each
// use case that acts for a Caller checks the session is still live in its
// own first query, so revocation takes effect at once.
type Authenticate struct{ tokens ports.Tokens }

// NewAuthenticate builds the Authenticate use case.
func NewAuthenticate(tokens ports.Tokens) *Authenticate { return &Authenticate{tokens: tokens} }

// Do returns the caller an access token names, or user.ErrSessionInvalid.
func (uc *Authenticate) Do(accessToken string) (Caller, error) {
	c, err := uc.tokens.VerifyAccess(accessToken)
	if err != nil {
		return Caller{}, err
	}
	return Caller{UserID: c.UserID, SessionID: c.SessionID}, nil
}

// Profile reads the caller's own account.
type Profile struct {
	users ports.Users
	clock ports.Clock
}

// NewProfile builds the Profile use case.
func NewProfile(users ports.Users, clock ports.Clock) *Profile {
	return &Profile{users: users, clock: clock}
}

// Do loads the caller's user and checks its session in one round trip. It
// fails with user.ErrSessionInvalid when the session is revoked or expired or
// the user is gone.
func (uc *Profile) Do(ctx context.Context, c Caller) (*user.User, error) {
	return uc.users.BySession(ctx, c.UserID, c.SessionID, uc.clock.Now())
}

// DeleteAccount removes the caller's account and every session of it.
type DeleteAccount struct {
	users ports.Users
	clock ports.Clock
}

// NewDeleteAccount builds the DeleteAccount use case.
func NewDeleteAccount(users ports.Users, clock ports.Clock) *DeleteAccount {
	return &DeleteAccount{users: users, clock: clock}
}

// Do deletes the caller's user; the store's cascade removes its sessions in
// the same statement. It fails with user.ErrSessionInvalid when the caller's
// session is no longer live.
func (uc *DeleteAccount) Do(ctx context.Context, c Caller) error {
	if _, err := uc.users.BySession(ctx, c.UserID, c.SessionID, uc.clock.Now()); err != nil {
		return err
	}
	if err := uc.users.Delete(ctx, c.UserID); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}
