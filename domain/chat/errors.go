package chat

import "errors"

// Errors of the chat context. They carry no HTTP meaning; adapters map them.
var (
	// ErrNotFound means no chat with that id belongs to the caller. A chat
	// of another user is not found either, so its existence never leaks.
	ErrNotFound = errors.New("chat: not found")
	// ErrOwnerUnknown means the chat's owner no longer exists (the account
	// was deleted while the request ran).
	ErrOwnerUnknown = errors.New("chat: owner unknown")
)
