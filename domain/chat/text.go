package chat

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Title is a chat's title: 1 to 100 characters, no control characters, and
// no white space at either end.
type Title struct{ s string }

var (
	errTitle      = errors.New("must be 1 to 100 characters")
	errTitleCtl   = errors.New("must not contain control characters")
	errTitleSpace = errors.New("must not start or end with white space")
)

// ParseTitle checks s against the title rule. Its error text is safe to show
// a client and never echoes the input.
func ParseTitle(s string) (Title, error) {
	if !utf8.ValidString(s) {
		return Title{}, errors.New("must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n == 0 || n > 100 {
		return Title{}, errTitle
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return Title{}, errTitleCtl
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return Title{}, errTitleSpace
	}
	return Title{s: s}, nil
}

// String returns the title.
func (t Title) String() string { return t.s }

// Body is a message's text: 1 to 4000 characters, no control characters but
// newline and tab, and not only white space.
type Body struct{ s string }

var (
	errBody      = errors.New("must be 1 to 4000 characters")
	errBodyCtl   = errors.New("must not contain control characters other than newline and tab")
	errBodySpace = errors.New("must not be only white space")
)

// ParseBody checks s against the body rule. Its error text is safe to show a
// client and never echoes the input.
func ParseBody(s string) (Body, error) {
	if !utf8.ValidString(s) {
		return Body{}, errors.New("must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n == 0 || n > 4000 {
		return Body{}, errBody
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return Body{}, errBodyCtl
	}
	if strings.TrimFunc(s, unicode.IsSpace) == "" {
		return Body{}, errBodySpace
	}
	return Body{s: s}, nil
}

// String returns the body.
func (b Body) String() string { return b.s }
