package user

import (
	"errors"
	"strings"
)

// Username is 1 to 50 ASCII letters or digits. It keeps the case it was given;
// Key folds case, so "Alice" and "alice" are the same account.
type Username struct{ s string }

// ParseUsername checks s against the username rule. Its error text is safe to
// show a client.
func ParseUsername(s string) (Username, error) {
	if len(s) == 0 || len(s) > 50 || strings.IndexFunc(s, notASCIIAlnum) >= 0 {
		return Username{}, errors.New("must be 1 to 50 ASCII letters or digits")
	}
	return Username{s: s}, nil
}

// String returns the username as it was given.
func (u Username) String() string { return u.s }

// Key returns the case-folded username that uniqueness and login compare.
func (u Username) Key() string { return strings.ToLower(u.s) }

// IsZero reports whether u is the zero Username (never a valid one).
func (u Username) IsZero() bool { return u.s == "" }

func notASCIIAlnum(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
}
