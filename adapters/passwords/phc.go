package passwords

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Errors about stored hashes. Their text names the problem, never the hash.
var (
	// ErrInvalidHash means a stored hash is empty, malformed or of a scheme
	// this package does not verify.
	ErrInvalidHash = errors.New("passwords: stored hash is malformed or of an unknown scheme")
	// ErrHashCost means a stored hash asks for more work than the bounds
	// allow (or less than its scheme permits); it is refused unverified.
	ErrHashCost = errors.New("passwords: stored hash cost is out of bounds")
)

// maxEncodedLen bounds the length of any stored hash before it is parsed.
const maxEncodedLen = 256

var b64 = base64.RawStdEncoding.Strict()

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// encode returns the PHC string
// $argon2id$v=19$m=<memory>,t=<time>,p=<threads>$<salt>$<key>.
func (a argonHash) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, a.memory, a.time, a.threads, b64.EncodeToString(a.salt), b64.EncodeToString(a.key))
}

// parseArgon2id reads an argon2id PHC string and checks every cost parameter
// and length against the bounds before decoding anything.
func parseArgon2id(s string) (argonHash, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argonHash{}, fmt.Errorf("%w: not an argon2id PHC string", ErrInvalidHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argonHash{}, fmt.Errorf("%w: argon2id version is not %d", ErrInvalidHash, argon2.Version)
	}
	var a argonHash
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return argonHash{}, fmt.Errorf("%w: argon2id parameters are not m,t,p", ErrInvalidHash)
	}
	m, err1 := param(params[0], "m=")
	t, err2 := param(params[1], "t=")
	p, err3 := param(params[2], "p=")
	if err := errors.Join(err1, err2, err3); err != nil {
		return argonHash{}, err
	}
	switch {
	case p < 1 || p > MaxThreads:
		return argonHash{}, fmt.Errorf("%w: argon2id p=%d not within [1, %d]", ErrHashCost, p, MaxThreads)
	case m < 8*p || m > MaxMemoryKiB:
		return argonHash{}, fmt.Errorf("%w: argon2id m=%d KiB not within [%d, %d]", ErrHashCost, m, 8*p, MaxMemoryKiB)
	case t < 1 || t > MaxTime:
		return argonHash{}, fmt.Errorf("%w: argon2id t=%d not within [1, %d]", ErrHashCost, t, MaxTime)
	}
	a.memory, a.time, a.threads = uint32(m), uint32(t), uint8(p)

	if n := len(parts[4]); n < b64.EncodedLen(MinSaltLen) || n > b64.EncodedLen(MaxSaltLen) {
		return argonHash{}, fmt.Errorf("%w: argon2id salt length not within [%d, %d] bytes", ErrInvalidHash, MinSaltLen, MaxSaltLen)
	}
	if n := len(parts[5]); n < b64.EncodedLen(MinKeyLen) || n > b64.EncodedLen(MaxKeyLen) {
		return argonHash{}, fmt.Errorf("%w: argon2id key length not within [%d, %d] bytes", ErrInvalidHash, MinKeyLen, MaxKeyLen)
	}
	var err error
	if a.salt, err = b64.DecodeString(parts[4]); err != nil {
		return argonHash{}, fmt.Errorf("%w: argon2id salt is not unpadded base64", ErrInvalidHash)
	}
	if a.key, err = b64.DecodeString(parts[5]); err != nil {
		return argonHash{}, fmt.Errorf("%w: argon2id key is not unpadded base64", ErrInvalidHash)
	}
	return a, nil
}

// param reads "<prefix><decimal>" as a uint32-sized number.
func param(s, prefix string) (uint64, error) {
	digits, ok := strings.CutPrefix(s, prefix)
	// ParseUint accepts no sign; reject leading zeros to keep one spelling.
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("%w: argon2id parameter %q malformed", ErrInvalidHash, prefix)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: argon2id parameter %q malformed", ErrInvalidHash, prefix)
	}
	return n, nil
}

// isBcrypt reports whether s looks like a modular-crypt bcrypt hash of a
// version this package verifies.
func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt validates the shape "$2x$NN$<53 chars>" and the cost bounds
// without running bcrypt.
func checkBcrypt(s string) error {
	if len(s) != 60 || s[6] != '$' {
		return fmt.Errorf("%w: not a bcrypt hash", ErrInvalidHash)
	}
	if strings.Trim(s[7:], bcryptAlphabet) != "" {
		return fmt.Errorf("%w: bcrypt salt or hash has characters outside its alphabet", ErrInvalidHash)
	}
	cost, err := bcrypt.Cost([]byte(s))
	if err != nil {
		return fmt.Errorf("%w: bcrypt cost malformed", ErrInvalidHash)
	}
	if cost < bcrypt.MinCost || cost > MaxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d not within [%d, %d]", ErrHashCost, cost, bcrypt.MinCost, MaxBcryptCost)
	}
	return nil
}
