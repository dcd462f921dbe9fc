package user

import (
	"errors"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password is a plaintext password. It prints as "[redacted]" (String,
// GoString, LogValue, Format through String); only a PasswordHasher calls
// Reveal. Errors about a password never echo it.
type Password struct{ s string }

// Reveal returns the plaintext. Only password hashers call it.
func (p Password) Reveal() string { return p.s }

// String hides the plaintext.
func (p Password) String() string { return "[redacted]" }

// GoString hides the plaintext from %#v.
func (p Password) GoString() string { return "user.Password{[redacted]}" }

// LogValue hides the plaintext from log/slog.
func (p Password) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MaxCheckedPasswordBytes bounds a password that is only compared (login,
// current_password), so a huge body cannot buy a long hash.
const MaxCheckedPasswordBytes = 1024

// PasswordPolicy decides which plaintexts are acceptable new passwords.
// The zero value is not usable; build one with ContractPolicy or NISTPolicy.
type PasswordPolicy struct {
	nist      bool
	normalize func(string) string
	isCommon  func(string) bool
}

// ContractPolicy is the API contract's rule: 8 to 25 characters with at least
// one upper-case letter, one lower-case letter, one digit and one symbol.
// isCommon, if not nil, rejects passwords on a common-password list.
func ContractPolicy(isCommon func(string) bool) PasswordPolicy {
	return PasswordPolicy{isCommon: isCommon}
}

// NISTPolicy is NIST SP 800-63B-4: 15 to 128 characters of any Unicode, no
// composition rules, normalised by normalize (NFKC) before length checks and
// hashing, never trimmed or truncated. isCommon, if not nil, rejects common
// passwords.
func NISTPolicy(normalize func(string) string, isCommon func(string) bool) PasswordPolicy {
	return PasswordPolicy{nist: true, normalize: normalize, isCommon: isCommon}
}

// IsNIST reports whether p is the NIST SP 800-63B-4 policy.
func (p PasswordPolicy) IsNIST() bool { return p.nist }

// Parse checks s as a new password. Its error names every broken part of the
// rule and is safe to show a client.
func (p PasswordPolicy) Parse(s string) (Password, error) {
	if !utf8.ValidString(s) {
		return Password{}, errors.New("must be valid UTF-8 text")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return Password{}, errors.New("must not contain control characters")
	}
	if p.normalize != nil {
		s = p.normalize(s)
	}
	var length string
	var missing []string
	n := utf8.RuneCountInString(s)
	if p.nist {
		if n < 15 || n > 128 {
			length = "be 15 to 128 characters long"
		}
	} else {
		if n < 8 || n > 25 {
			length = "be 8 to 25 characters long"
		}
		for _, class := range contractClasses {
			if strings.IndexFunc(s, class.has) < 0 {
				missing = append(missing, class.name)
			}
		}
	}
	if length != "" || len(missing) > 0 {
		return Password{}, errors.New(passwordProblem(length, missing))
	}
	if p.isCommon != nil && p.isCommon(s) {
		return Password{}, errors.New("is too common: choose a password that is not on a list of common passwords")
	}
	return Password{s: s}, nil
}

// ForCheck wraps s for comparison with a stored hash (login, current_password).
// It applies the policy's normalisation but no strength rule, so passwords set
// under an older rule still work.
func (p PasswordPolicy) ForCheck(s string) (Password, error) {
	if s == "" || len(s) > MaxCheckedPasswordBytes {
		return Password{}, errors.New("must be 1 to 1024 bytes")
	}
	if p.normalize != nil && utf8.ValidString(s) {
		s = p.normalize(s)
	}
	return Password{s: s}, nil
}

// contractClasses are the character classes the contract's rule requires.
var contractClasses = []struct {
	name string
	has  func(rune) bool
}{
	{"an upper-case letter", unicode.IsUpper},
	{"a lower-case letter", unicode.IsLower},
	{"a digit", unicode.IsDigit},
	{"a symbol", isSymbol},
}

// passwordProblem says in one sentence what a password lacks, e.g. "must be
// 8 to 25 characters long and contain a digit and a symbol".
func passwordProblem(length string, missing []string) string {
	parts := []string{}
	if length != "" {
		parts = append(parts, length)
	}
	if len(missing) > 0 {
		list := missing[0]
		if len(missing) > 1 {
			list = strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1]
		}
		parts = append(parts, "contain "+list)
	}
	return "must " + strings.Join(parts, " and ")
}

func isSymbol(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// PasswordHash is a stored password hash in a self-describing text form
// (PHC string for argon2id, modular crypt for bcrypt). It prints as
// "[redacted]"; storage adapters read it with Reveal.
type PasswordHash struct{ s string }

// NewPasswordHash wraps an encoded hash. Only hashers and storage adapters call it.
func NewPasswordHash(encoded string) PasswordHash { return PasswordHash{s: encoded} }

// Reveal returns the encoded hash for storage and verification.
func (h PasswordHash) Reveal() string { return h.s }

// String hides the hash.
func (h PasswordHash) String() string { return "[redacted]" }

// GoString hides the hash from %#v.
func (h PasswordHash) GoString() string { return "user.PasswordHash{[redacted]}" }

// LogValue hides the hash from log/slog.
func (h PasswordHash) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// IsZero reports whether h holds no hash.
func (h PasswordHash) IsZero() bool { return h.s == "" }
