package user

import (
	"errors"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Client is the device a session is used from, as the request that started
// or last refreshed it showed it: the client's IP address and user agent.
type Client struct {
	// IP is the client's address; the zero Addr when it is not known.
	IP netip.Addr
	// UserAgent is the client's User-Agent header; zero when none was sent.
	UserAgent UserAgent
}

// MaxUserAgentChars is how many characters of a User-Agent header a session
// keeps.
const MaxUserAgentChars = 256

// UserAgent is a client's User-Agent header as a session keeps it: valid
// UTF-8 without control characters, without white space at either end, and
// at most MaxUserAgentChars characters. The zero UserAgent means none.
type UserAgent struct{ s string }

// NewUserAgent keeps what a session may store of the header value s: it
// drops invalid bytes and control characters, trims white space and cuts
// the rest to MaxUserAgentChars characters. A value with nothing left is
// the zero UserAgent. It never fails: a client's header is a fact, not a
// request to validate.
func NewUserAgent(s string) UserAgent {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxUserAgentChars {
		cut, n := 0, 0
		for i := range s {
			if n == MaxUserAgentChars {
				cut = i
				break
			}
			n++
		}
		s = strings.TrimSpace(s[:cut])
	}
	return UserAgent{s: s}
}

// String returns the user agent, or "" for the zero UserAgent.
func (a UserAgent) String() string { return a.s }

// IsZero reports whether a means "no user agent".
func (a UserAgent) IsZero() bool { return a.s == "" }

// SessionName is what the user calls a session ("Work laptop"): 1 to 64
// characters, no control characters, not only white space. The zero
// SessionName means the session has no name.
type SessionName struct{ s string }

var (
	errSessionName      = errors.New("must be 1 to 64 characters")
	errSessionNameCtl   = errors.New("must not contain control characters")
	errSessionNameBlank = errors.New("must not be blank")
)

// ParseSessionName checks s against the session-name rule. Its error text is
// safe to show a client and never echoes the input.
func ParseSessionName(s string) (SessionName, error) {
	if !utf8.ValidString(s) {
		return SessionName{}, errors.New("must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n == 0 || n > 64 {
		return SessionName{}, errSessionName
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return SessionName{}, errSessionNameCtl
	}
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return SessionName{}, errSessionNameBlank
	}
	return SessionName{s: s}, nil
}

// String returns the name, or "" for the zero SessionName.
func (n SessionName) String() string { return n.s }

// IsZero reports whether the session has no name.
func (n SessionName) IsZero() bool { return n.s == "" }
