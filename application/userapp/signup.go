package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// SignUpInput is a validated signup request.
type SignUpInput struct {
	Username user.Username
	Password user.Password
	FullName user.FullName
	// Client is the device signing up; its first session records it.
	Client user.Client
}

// SignUp creates an account and its first session.
type SignUp struct {
	users  userports.Users
	tx     ports.Transactor
	hasher userports.PasswordHasher
	clock  ports.Clock
	ids    ports.IDs
	issue  *sessionIssuer
	log    *eventLog
}

// Do stores the new user and starts a session in one transaction, with
// their events (user.created, session.started). It fails
// with user.ErrUsernameTaken when the username is taken case-insensitively,
// ports.ErrBusy when no hashing slot frees in time, or an error wrapping
// ports.ErrUnavailable; on any failure nothing is stored.
func (uc *SignUp) Do(ctx context.Context, in SignUpInput) (Tokens, error) {
	hash, err := uc.hasher.Hash(ctx, in.Password)
	if err != nil {
		return Tokens{}, fmt.Errorf("hash password: %w", err)
	}
	u := user.New(user.ID(uc.ids.NewUUID()), in.Username, hash, in.FullName, uc.clock.Now())
	var out Tokens
	err = uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := uc.users.Add(ctx, u); err != nil {
			return err
		}
		if err := uc.log.record(ctx, userCreated(u)); err != nil {
			return err
		}
		out, err = uc.issue.start(ctx, u.ID(), in.Client)
		return err
	})
	return out, err
}
