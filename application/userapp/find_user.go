package userapp

import (
	"context"
	"fmt"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// FindUser finds an account for an operator, by id or username, with its
// live sessions.
type FindUser struct {
	users    userports.Users
	sessions userports.Sessions
	clock    ports.Clock
}

// UserDetail is what an operator sees of one account.
type UserDetail struct {
	User *user.User
	// LastLogin is the latest start of a session still kept (a signup or a
	// login); zero when none is kept.
	LastLogin time.Time
	// Sessions are the live sessions, newest first.
	Sessions []user.Session
}

// Resolve finds the user ref names: a canonical UUID is an id, anything else
// a username (usernames hold no hyphen, so the two never overlap). It fails
// with an error wrapping user.ErrNotFound, naming ref, when no user matches.
func (uc *FindUser) Resolve(ctx context.Context, ref string) (*user.User, error) {
	if len(ref) == 36 {
		if id, err := user.ParseID(ref); err == nil {
			u, err := uc.users.ByID(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("user %q: %w", ref, err)
			}
			return u, nil
		}
	}
	name, err := user.ParseUsername(ref)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w (neither a user id nor a valid username)", ref, user.ErrNotFound)
	}
	u, err := uc.users.ByUsername(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", ref, err)
	}
	return u, nil
}

// Do returns the account ref names (see Resolve), its last login and its
// live sessions.
func (uc *FindUser) Do(ctx context.Context, ref string) (UserDetail, error) {
	u, err := uc.Resolve(ctx, ref)
	if err != nil {
		return UserDetail{}, err
	}
	live, err := uc.sessions.List(ctx, u.ID(), uc.clock.Now())
	if err != nil {
		return UserDetail{}, fmt.Errorf("list sessions: %w", err)
	}
	last, err := uc.sessions.LastStarts(ctx, []user.ID{u.ID()})
	if err != nil {
		return UserDetail{}, fmt.Errorf("last login: %w", err)
	}
	return UserDetail{User: u, LastLogin: last[u.ID()], Sessions: live}, nil
}
