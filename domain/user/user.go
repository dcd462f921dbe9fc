package user

import (
	"time"

	"github.com/google/uuid"
)

// ID identifies a user. It is a UUID (version 7 for new users).
type ID uuid.UUID

// ParseID reads a UUID in canonical text form.
func ParseID(s string) (ID, error) {
	u, err := uuid.Parse(s)
	return ID(u), err
}

// String returns the canonical UUID text.
func (id ID) String() string { return uuid.UUID(id).String() }

// User is an account. Fields are unexported; every change goes through a method
// that keeps the invariants and moves updatedAt forward.
type User struct {
	id                   ID
	name                 Username
	hash                 PasswordHash
	fullName             FullName // zero value: no full name
	createdAt, updatedAt time.Time
	disabled             Disablement // zero value: enabled
}

// New creates a user; id and now come from the caller so tests are exact.
func New(id ID, name Username, hash PasswordHash, full FullName, now time.Time) *User {
	now = now.UTC()
	return &User{id: id, name: name, hash: hash, fullName: full, createdAt: now, updatedAt: now}
}

// Restore rebuilds a stored user, with its disabled state (the zero
// Disablement: enabled). Only storage adapters call it.
func Restore(id ID, name Username, hash PasswordHash, full FullName, created, updated time.Time, disabled Disablement) *User {
	if disabled.Disabled() {
		disabled.At = disabled.At.UTC()
	} else {
		disabled = Disablement{}
	}
	return &User{id: id, name: name, hash: hash, fullName: full, createdAt: created.UTC(), updatedAt: updated.UTC(), disabled: disabled}
}

// ID returns the user's id.
func (u *User) ID() ID { return u.id }

// Username returns the username as the user chose it.
func (u *User) Username() Username { return u.name }

// PasswordHash returns the stored hash.
func (u *User) PasswordHash() PasswordHash { return u.hash }

// FullName returns the full name; its zero value means none.
func (u *User) FullName() FullName { return u.fullName }

// CreatedAt returns when the account was created, in UTC.
func (u *User) CreatedAt() time.Time { return u.createdAt }

// UpdatedAt returns when the account last changed, in UTC.
func (u *User) UpdatedAt() time.Time { return u.updatedAt }

// Rename changes the username.
func (u *User) Rename(name Username, now time.Time) {
	u.name = name
	u.touch(now)
}

// SetFullName sets or, with the zero FullName, clears the full name.
func (u *User) SetFullName(full FullName, now time.Time) {
	u.fullName = full
	u.touch(now)
}

// SetPasswordHash stores a new hash: a password change or a rehash.
func (u *User) SetPasswordHash(hash PasswordHash, now time.Time) {
	u.hash = hash
	u.touch(now)
}

func (u *User) touch(now time.Time) {
	now = now.UTC()
	if now.After(u.updatedAt) {
		u.updatedAt = now
	}
}
