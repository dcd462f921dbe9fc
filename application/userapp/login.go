package userapp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// LogInInput is a login request. Password is wrapped with
// PasswordPolicy.ForCheck: no strength rule applies to it.
type LogInInput struct {
	Username user.Username
	Password user.Password
	// Client is the device logging in; the new session records it.
	Client user.Client
}

// LogIn checks a username and password and opens a session.
type LogIn struct {
	users  userports.Users
	tx     ports.Transactor
	hasher userports.PasswordHasher
	clock  ports.Clock
	issue  *sessionIssuer
	decoy  user.PasswordHash // hashed once, compared for unknown usernames
}

// newLogIn builds the LogIn use case. It hashes a random decoy password once,
// so that a login for an unknown username costs the same work as a wrong
// password.
func newLogIn(ctx context.Context, d Deps, issue *sessionIssuer) (*LogIn, error) {
	plain, err := user.PasswordPolicy{}.ForCheck(rand.Text())
	if err != nil {
		return nil, fmt.Errorf("decoy password: %w", err)
	}
	decoy, err := d.Hasher.Hash(ctx, plain)
	if err != nil {
		return nil, fmt.Errorf("hash decoy password: %w", err)
	}
	return &LogIn{users: d.Users, tx: d.Tx, hasher: d.Hasher, clock: d.Clock, issue: issue, decoy: decoy}, nil
}

// Do returns tokens of a new session when the password matches. An unknown
// username and a wrong password take exactly the same path: the password is
// compared (against a decoy hash for an unknown username) in the same
// hashing queue, with the same work, and both fail with
// user.ErrInvalidCredentials; so does a stored hash that cannot be verified,
// wrapped with its cause. When no hashing slot frees in time, or ctx ends
// before the comparison, both fail alike with an error wrapping ports.ErrBusy
// or ctx's error. Every comparison of a wrong password ends in
// ErrInvalidCredentials, so any other error means the password was right or
// not compared. A right password for a disabled account fails with
// user.ErrAccountDisabled, and starts or rehashes nothing. A stored hash of an older scheme or weaker parameters is
// replaced by a current one in the same request; that rehash is no change
// the account's owner made, and records no event. The new session, and the
// least recently used one it evicts when the user is at SessionsPerUser,
// record theirs (see sessionIssuer.start).
func (uc *LogIn) Do(ctx context.Context, in LogInInput) (Tokens, error) {
	u, err := uc.users.ByUsername(ctx, in.Username)
	known := err == nil
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		return Tokens{}, fmt.Errorf("find user: %w", err)
	}
	stored := uc.decoy // same cost: no enumeration by timing or by 503s
	if known {
		stored = u.PasswordHash()
	}
	ok, needsRehash, err := uc.hasher.Matches(ctx, stored, in.Password)
	if err != nil && (errors.Is(err, ports.ErrBusy) || ctx.Err() != nil) {
		return Tokens{}, fmt.Errorf("check password: %w", err)
	}
	if err != nil {
		// A stored hash that cannot be verified (unparseable, or a planted
		// cost out of bounds) fails the login like a wrong password; the
		// cause rides along for the log.
		return Tokens{}, fmt.Errorf("%w: stored hash unusable: %v", user.ErrInvalidCredentials, err)
	}
	if !ok || !known {
		return Tokens{}, user.ErrInvalidCredentials
	}
	// Only now, with the password verified, may the answer differ: a
	// disabled account is no secret to the one who knows its password.
	// (The session store refuses it again under its lock, for an account
	// disabled from here on.)
	if u.Disabled() {
		return Tokens{}, user.ErrAccountDisabled
	}
	var rehash user.PasswordHash
	if needsRehash {
		// A failed rehash must not fail a correct login: the old hash still works.
		if h, err := uc.hasher.Hash(ctx, in.Password); err == nil {
			rehash = h
		}
	}
	var out Tokens
	err = uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if !rehash.IsZero() {
			old := u.PasswordHash()
			err := uc.users.Update(ctx, u.ID(), func(stored *user.User) error {
				if stored.PasswordHash() == old { // a concurrent password change wins
					stored.SetPasswordHash(rehash, uc.clock.Now())
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("store rehash: %w", err)
			}
		}
		out, err = uc.issue.start(ctx, u.ID(), in.Client)
		return err
	})
	return out, err
}
