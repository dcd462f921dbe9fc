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
)

// wrapped is an error that adds text to a sentinel and still matches it with errors.Is.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func fmtWrap(err error, msg string) error { return &wrapped{msg: msg, err: err} }

// FieldError is one field that broke its rule. Field is the field's name as the
// client sent it; Message is safe to show a client and never echoes the input.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every field that broke its rule, in the order checked.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	msg := "user: invalid fields:"
	for _, f := range e.Fields {
		msg += " " + f.Field + " (" + f.Message + ")"
	}
	return msg
}

// Fields collects field errors so that every failing field is reported at once.
type Fields struct{ list []FieldError }

// Add records err against field when err is not nil.
func (f *Fields) Add(field string, err error) {
	if err != nil {
		f.list = append(f.list, FieldError{Field: field, Message: err.Error()})
	}
}

// Err returns a *ValidationError holding every recorded field, or nil if none.
func (f *Fields) Err() error {
	if len(f.list) == 0 {
		return nil
	}
	return &ValidationError{Fields: f.list}
}
