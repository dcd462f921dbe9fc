package passwords

import (
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
	"golang.org/x/text/unicode/norm"
)

// commonPasswords is the set of common passwords, lower-cased, built on first
// use: the 30,000 most common passwords of zxcvbn's "passwords" frequency
// list (Dropbox zxcvbn 4.4.2, shipped by github.com/trustelem/zxcvbn).
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[strings.ToLower(p)] = struct{}{}
	}
	return set
})

// IsCommon reports whether s, compared case-insensitively, is one of the
// 30,000 most common passwords (zxcvbn's list). The list is loaded on the
// first call. Safe for concurrent use.
func IsCommon(s string) bool {
	_, ok := commonPasswords()[strings.ToLower(s)]
	return ok
}

// NormalizeNFKC returns s in Unicode Normalization Form KC, the form NIST SP
// 800-63B-4 asks passwords to be hashed in, so that the same password typed
// on different keyboards or systems hashes the same. Bytes that are not valid
// UTF-8 are kept as they are.
func NormalizeNFKC(s string) string { return norm.NFKC.String(s) }
