package chat

import "github.com/google/uuid"

// ID identifies a chat. New chats get a version 7 UUID.
type ID uuid.UUID

// ParseID reads a UUID in canonical text form; anything else fails, and the
// routes answer a malformed id like an unknown one.
func ParseID(s string) (ID, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return ID{}, ErrNotFound
	}
	return ID(u), nil
}

// String returns the canonical UUID text.
func (id ID) String() string { return uuid.UUID(id).String() }

// MessageID identifies a message. New messages get a version 7 UUID.
type MessageID uuid.UUID

// String returns the canonical UUID text.
func (id MessageID) String() string { return uuid.UUID(id).String() }
