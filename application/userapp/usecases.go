package userapp

import (
	"context"
	"time"

	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// Settings are the token and session lifetimes the use cases apply.
type Settings struct {
	// AccessTTL is the access token's lifetime.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token's lifetime and the session's idle lifetime.
	RefreshTTL time.Duration
	// SessionMaxAge is the session's absolute lifetime, whatever its refreshes.
	SessionMaxAge time.Duration
	// ReuseGrace is how long a just-retired refresh token still gets the
	// session's current one; 0 turns the grace off.
	ReuseGrace time.Duration
}

// Deps are the ports and settings the user use cases are built from.
type Deps struct {
	Users    userports.Users
	Sessions userports.Sessions
	Tx       ports.Transactor
	Hasher   userports.PasswordHasher
	Tokens   userports.Tokens
	Clock    ports.Clock
	IDs      ports.IDs
	Settings Settings
}

// UseCases are the user context's use cases: the one list of them. Adding a
// use case adds its file, a field here and its line in NewUseCases.
type UseCases struct {
	SignUp         *SignUp
	LogIn          *LogIn
	Refresh        *Refresh
	LogOut         *LogOut
	Profile        *Profile
	ReplaceProfile *ReplaceProfile
	PatchProfile   *PatchProfile
	DeleteAccount  *DeleteAccount
}

// NewUseCases builds every user use case from d. It hashes LogIn's decoy
// password, so it fails when the hasher cannot (ctx ended, no slot).
func NewUseCases(ctx context.Context, d Deps) (*UseCases, error) {
	issue := &sessionIssuer{sessions: d.Sessions, tokens: d.Tokens, clock: d.Clock, ids: d.IDs, settings: d.Settings}
	change := &profileChanger{users: d.Users, sessions: d.Sessions, tx: d.Tx, hasher: d.Hasher, clock: d.Clock}
	logIn, err := newLogIn(ctx, d, issue)
	if err != nil {
		return nil, err
	}
	return &UseCases{
		SignUp:         &SignUp{users: d.Users, tx: d.Tx, hasher: d.Hasher, clock: d.Clock, ids: d.IDs, issue: issue},
		LogIn:          logIn,
		Refresh:        &Refresh{sessions: d.Sessions, tokens: d.Tokens, clock: d.Clock, issue: issue, grace: d.Settings.ReuseGrace},
		LogOut:         &LogOut{sessions: d.Sessions, tokens: d.Tokens, clock: d.Clock},
		Profile:        &Profile{users: d.Users},
		ReplaceProfile: &ReplaceProfile{change: change},
		PatchProfile:   &PatchProfile{change: change},
		DeleteAccount:  &DeleteAccount{users: d.Users, sessions: d.Sessions, tx: d.Tx, clock: d.Clock},
	}, nil
}
