package user

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DisableReason is an operator's note on why an account was disabled: 1 to
// 200 characters, no control characters, not blank. The zero DisableReason
// means none was given.
type DisableReason struct{ s string }

var errDisableReason = errors.New("must be 1 to 200 characters, not blank, without control characters")

// ParseDisableReason checks s against the reason rule. Its error text is safe
// to show.
func ParseDisableReason(s string) (DisableReason, error) {
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return DisableReason{}, errDisableReason
	}
	if n := utf8.RuneCountInString(s); n > 200 {
		return DisableReason{}, errDisableReason
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return DisableReason{}, errDisableReason
		}
	}
	return DisableReason{s: s}, nil
}

// String returns the reason, or "" for the zero DisableReason.
func (r DisableReason) String() string { return r.s }

// IsZero reports whether no reason was given.
func (r DisableReason) IsZero() bool { return r.s == "" }

// Disablement is whether, since when and why an operator disabled an account.
// Its zero value is an enabled account.
type Disablement struct {
	// At is when the account was disabled; the zero time means enabled.
	At time.Time
	// Reason is the operator's note; zero when none was given.
	Reason DisableReason
}

// Disabled reports whether the account is disabled.
func (d Disablement) Disabled() bool { return !d.At.IsZero() }

// Disablement returns the account's disabled state.
func (u *User) Disablement() Disablement { return u.disabled }

// Disabled reports whether an operator disabled the account: it may not
// start sessions until it is enabled again.
func (u *User) Disabled() bool { return u.disabled.Disabled() }

// Disable marks the account disabled at now with reason (zero: none given)
// and reports whether that changed anything: an account already disabled
// keeps its first time and reason.
func (u *User) Disable(reason DisableReason, now time.Time) bool {
	if u.Disabled() {
		return false
	}
	u.disabled = Disablement{At: now.UTC(), Reason: reason}
	u.touch(now)
	return true
}

// Enable clears the disabled state and reports whether the account was
// disabled.
func (u *User) Enable(now time.Time) bool {
	if !u.Disabled() {
		return false
	}
	u.disabled = Disablement{}
	u.touch(now)
	return true
}
