package user

import (
	"errors"
	"unicode"
	"unicode/utf8"
)

// FullName is an optional display name: 1 to 100 characters, letters of any
// script with their combining marks, and single hyphens, spaces or apostrophes
// between letters. The zero FullName means "no full name".
type FullName struct{ s string }

var errFullName = errors.New("must be 1 to 100 letters, with single spaces, hyphens or apostrophes between letters")

// ParseFullName checks s against the full-name rule. Its error text is safe to
// show a client.
func ParseFullName(s string) (FullName, error) {
	if !utf8.ValidString(s) {
		return FullName{}, errFullName
	}
	n := utf8.RuneCountInString(s)
	if n == 0 || n > 100 {
		return FullName{}, errFullName
	}
	prevSeparator := true // the name may not start with a separator or a mark
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			prevSeparator = false
		case unicode.Is(unicode.M, r):
			if prevSeparator {
				return FullName{}, errFullName
			}
		case r == ' ' || r == '-' || r == '\'' || r == '\u2019':
			if prevSeparator {
				return FullName{}, errFullName
			}
			prevSeparator = true
		default:
			return FullName{}, errFullName
		}
	}
	if prevSeparator {
		return FullName{}, errFullName
	}
	return FullName{s: s}, nil
}

// String returns the name, or "" for the zero FullName.
func (f FullName) String() string { return f.s }

// IsZero reports whether f means "no full name".
func (f FullName) IsZero() bool { return f.s == "" }
