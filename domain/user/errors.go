package user

import "errors"

// Errors of the user context. They carry no HTTP meaning; adapters map them.
var (
	// ErrNotFound means no user has the given id or username.
	ErrNotFound = errors.New("user: not found")
	// ErrUsernameTaken means another account already holds the username's Key.
	ErrUsernameTaken = errors.New("user: username taken")
	// ErrInvalidCredentials is the one answer to a login with an unknown
	// username or a wrong password, so the two cannot be told apart.
	ErrInvalidCredentials = errors.New("user: invalid credentials")
	// ErrWrongPassword means current_password did not match the stored password.
	ErrWrongPassword = errors.New("user: current password does not match")
	// ErrSessionInvalid means a token or session is missing, malformed, expired,
	// revoked or reused, or its user no longer exists.
	ErrSessionInvalid = errors.New("user: session invalid, expired, revoked or reused")
	// ErrRefreshReused means a retired refresh token was presented outside the
	// grace period; the session has been revoked. It wraps ErrSessionInvalid.
	ErrRefreshReused = fmtWrap(ErrSessionInvalid, "user: refresh token reused, session revoked")
	// ErrPasswordRequired means a request sets a password without current_password.
	ErrPasswordRequired = errors.New("user: current password required")
	// ErrSessionNotFound means no live session with the given id belongs to
	// the user: unknown, another user's, revoked or expired alike.
	ErrSessionNotFound = errors.New("user: session not found")
	// ErrAccountDisabled means an operator disabled the account: it may not
	// start a session. Login returns it only after the password matched, so
	// the state is never revealed to someone who does not know it.
	ErrAccountDisabled = errors.New("user: account is disabled")
	// ErrCurrentSession means a request would revoke the very session it
	// was made with; logout is how a session ends itself.
	ErrCurrentSession = errors.New("user: the current session is ended by logout")
)

// wrapped is an error that adds text to a sentinel and still matches it with errors.Is.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func fmtWrap(err error, msg string) error { return &wrapped{msg: msg, err: err} }
