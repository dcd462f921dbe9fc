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
	// SessionsPerUser is the most live sessions a user may have: starting
	// one more revokes the least recently used. Less than 1 means no limit.
	SessionsPerUser int
	// EndedSessionRetention is how long an ended session is kept before the
	// clean-up removes it: at least the longest token lifetime plus the
	// verifiers' clock leeway, so that no token of it can still be live and
	// every instance's authenticator has forgotten its revocation.
	EndedSessionRetention time.Duration
	// CleanUpBatchTimeout bounds the database work of one batch of the
	// clean-up.
	CleanUpBatchTimeout time.Duration
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
	// Events records the user context's events, in the transaction of the
	// change each describes.
	Events ports.Events
	// HashChecker vets the hashes an import brings.
	HashChecker userports.HashChecker
	Settings    Settings
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
	// The caller's sessions (BASE/me/sessions) and their clean-up.
	ListSessions        *ListSessions
	RenameSession       *RenameSession
	RevokeSession       *RevokeSession
	RevokeOtherSessions *RevokeOtherSessions
	CleanUpSessions     *CleanUpSessions
	// The operators' use cases (usersvc admin).
	ListUsers   *ListUsers
	FindUser    *FindUser
	DisableUser *DisableUser
	EnableUser  *EnableUser
	LogOutUser  *LogOutUser
	DeleteUser  *DeleteUser
	ImportUsers *ImportUsers
	ExportUsers *ExportUsers
}

// NewUseCases builds every user use case from d. It hashes LogIn's decoy
// password, so it fails when the hasher cannot (ctx ended, no slot).
func NewUseCases(ctx context.Context, d Deps) (*UseCases, error) {
	log := &eventLog{events: d.Events, ids: d.IDs}
	issue := &sessionIssuer{sessions: d.Sessions, tokens: d.Tokens, clock: d.Clock, ids: d.IDs, log: log, settings: d.Settings}
	change := &profileChanger{users: d.Users, sessions: d.Sessions, tx: d.Tx, hasher: d.Hasher, clock: d.Clock, log: log}
	logIn, err := newLogIn(ctx, d, issue)
	if err != nil {
		return nil, err
	}
	deleteAccount := &DeleteAccount{users: d.Users, sessions: d.Sessions, tx: d.Tx, clock: d.Clock, log: log}
	return &UseCases{
		SignUp:              &SignUp{users: d.Users, tx: d.Tx, hasher: d.Hasher, clock: d.Clock, ids: d.IDs, issue: issue, log: log},
		LogIn:               logIn,
		Refresh:             &Refresh{sessions: d.Sessions, tokens: d.Tokens, tx: d.Tx, clock: d.Clock, issue: issue, log: log, grace: d.Settings.ReuseGrace},
		LogOut:              &LogOut{sessions: d.Sessions, tokens: d.Tokens, tx: d.Tx, clock: d.Clock, log: log},
		Profile:             &Profile{users: d.Users},
		ReplaceProfile:      &ReplaceProfile{change: change},
		PatchProfile:        &PatchProfile{change: change},
		DeleteAccount:       deleteAccount,
		ListSessions:        &ListSessions{sessions: d.Sessions, clock: d.Clock},
		RenameSession:       &RenameSession{sessions: d.Sessions, clock: d.Clock},
		RevokeSession:       &RevokeSession{sessions: d.Sessions, tx: d.Tx, clock: d.Clock, log: log},
		RevokeOtherSessions: &RevokeOtherSessions{sessions: d.Sessions, tx: d.Tx, clock: d.Clock, log: log},
		CleanUpSessions: &CleanUpSessions{sessions: d.Sessions, clock: d.Clock,
			retention: d.Settings.EndedSessionRetention, batchTimeout: d.Settings.CleanUpBatchTimeout},
		ListUsers:   &ListUsers{users: d.Users, sessions: d.Sessions},
		FindUser:    &FindUser{users: d.Users, sessions: d.Sessions, clock: d.Clock},
		DisableUser: &DisableUser{users: d.Users, sessions: d.Sessions, tx: d.Tx, clock: d.Clock, log: log},
		EnableUser:  &EnableUser{users: d.Users, tx: d.Tx, clock: d.Clock, log: log},
		LogOutUser:  &LogOutUser{users: d.Users, sessions: d.Sessions, tx: d.Tx, clock: d.Clock, log: log},
		DeleteUser:  &DeleteUser{account: deleteAccount},
		ImportUsers: &ImportUsers{users: d.Users, tx: d.Tx, checker: d.HashChecker, clock: d.Clock, log: log},
		ExportUsers: &ExportUsers{users: d.Users},
	}, nil
}
