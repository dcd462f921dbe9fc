package userapp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// ErrInvalidQuery means an operator's list query is malformed: its text
// names the parameter.
var ErrInvalidQuery = errors.New("userapp: invalid query")

// MaxListLimit is the largest page ListUsers serves.
const MaxListLimit = 1000

// ListUsersInput selects a page of users. The zero Prefix and State select
// every user; the zero Cursor the first page.
type ListUsersInput struct {
	// Prefix keeps usernames that start with it, ignoring case.
	Prefix string
	State  userports.UserState
	// Cursor is the NextCursor of the previous page.
	Cursor string
	// Limit is 1 to MaxListLimit.
	Limit int
}

// UserSummary is one line of an operator's user list.
type UserSummary struct {
	User *user.User
	// LastLogin is the latest start of a session still kept; zero for none.
	LastLogin time.Time
}

// UserPage is one page of users, by username ignoring case.
type UserPage struct {
	Items []UserSummary
	// NextCursor reads the next page; "" on the last one.
	NextCursor string
}

// ListUsers lists accounts for operators, page by page.
type ListUsers struct {
	users    userports.Users
	sessions userports.Sessions
}

// Do returns the page in selects. Pages are stable: walking them with
// NextCursor returns each user once, in username order, even while users
// are added. It fails with an error wrapping ErrInvalidQuery for a limit out
// of range, a prefix no username could start with, or a malformed cursor.
func (uc *ListUsers) Do(ctx context.Context, in ListUsersInput) (UserPage, error) {
	if in.Limit < 1 || in.Limit > MaxListLimit {
		return UserPage{}, fmt.Errorf("%w: limit must be 1 to %d", ErrInvalidQuery, MaxListLimit)
	}
	q := userports.UserQuery{State: in.State, Limit: in.Limit + 1}
	if in.Prefix != "" {
		p, err := user.ParseUsername(in.Prefix)
		if err != nil {
			return UserPage{}, fmt.Errorf("%w: prefix %s", ErrInvalidQuery, err)
		}
		q.Prefix = p.Key()
	}
	if in.Cursor != "" {
		after, err := decodeCursor(in.Cursor)
		if err != nil {
			return UserPage{}, fmt.Errorf("%w: cursor is not one a previous page gave", ErrInvalidQuery)
		}
		q.After = after
	}
	users, err := uc.users.List(ctx, q)
	if err != nil {
		return UserPage{}, fmt.Errorf("list users: %w", err)
	}
	var page UserPage
	if len(users) > in.Limit {
		users = users[:in.Limit]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(users[len(users)-1].Username().Key()))
	}
	ids := make([]user.ID, len(users))
	for i, u := range users {
		ids[i] = u.ID()
	}
	last, err := uc.sessions.LastStarts(ctx, ids)
	if err != nil {
		return UserPage{}, fmt.Errorf("last logins: %w", err)
	}
	for _, u := range users {
		page.Items = append(page.Items, UserSummary{User: u, LastLogin: last[u.ID()]})
	}
	return page, nil
}

// decodeCursor reads a cursor back into the username key it holds.
func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", err
	}
	name, err := user.ParseUsername(string(b))
	if err != nil || name.Key() != string(b) {
		return "", errors.New("not a username key")
	}
	return string(b), nil
}
