package passwords

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

var (
	_ userports.PasswordHasher = (*Hasher)(nil)
	_ userports.HashChecker    = (*Hasher)(nil)
)

// Hasher hashes new passwords with argon2id and verifies argon2id and bcrypt
// hashes. At most Params.MaxConcurrent hashes run at once; a call that cannot
// start within Params.QueueWait fails with ports.ErrBusy. Safe for concurrent
// use.
type Hasher struct {
	p     Params
	err   error         // Params.Validate's verdict; Hash refuses while set
	slots chan struct{} // a buffered channel used as a counting semaphore
}

// NewHasher returns a Hasher with p, its zero fields filled from
// DefaultParams. It does not fail: if p is out of bounds (see
// Params.Validate, which start-up code should call first), Hash returns an
// error wrapping ErrParams, while Matches still verifies stored hashes.
func NewHasher(p Params) *Hasher {
	p = p.withDefaults()
	h := &Hasher{p: p, err: p.Validate()}
	h.slots = make(chan struct{}, max(p.MaxConcurrent, 1))
	return h
}

// InUse returns how many hashing slots are taken at this moment, for metrics
// and tests.
func (h *Hasher) InUse() int { return len(h.slots) }

// Hash derives an argon2id hash of p with a fresh random salt of
// Params.SaltLen bytes and returns it as a PHC string,
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, salt and key in
// unpadded standard base64. It fails with ports.ErrBusy when no hashing slot
// frees within Params.QueueWait, with ctx's error when ctx ends first, and
// with an error wrapping ErrParams when the hasher's parameters are out of
// bounds.
func (h *Hasher) Hash(ctx context.Context, p user.Password) (user.PasswordHash, error) {
	if h.err != nil {
		return user.PasswordHash{}, h.err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return user.PasswordHash{}, err
	}
	defer release()

	a := argonHash{memory: h.p.Memory, time: h.p.Time, threads: h.p.Threads, salt: make([]byte, h.p.SaltLen)}
	_, _ = rand.Read(a.salt) // never fails since Go 1.24
	a.key = h.derive(a, p.Reveal())
	return user.NewPasswordHash(a.encode()), nil
}

// Matches reports whether p matches the stored hash in constant time. It
// verifies argon2id PHC strings and bcrypt hashes ($2a$, $2b$, $2y$; like
// every bcrypt, only a password's first 72 bytes count). needsRehash is true
// only together with ok, when the hash is bcrypt or argon2id with weaker
// parameters (memory, time, salt or key length) than the hasher's.
//
// A hash that cannot be parsed fails with an error wrapping ErrInvalidHash,
// one whose cost is out of bounds with ErrHashCost; both are detected before
// any hashing work or slot wait. Otherwise Matches fails like Hash with
// ports.ErrBusy or ctx's error.
func (h *Hasher) Matches(ctx context.Context, stored user.PasswordHash, p user.Password) (ok, needsRehash bool, err error) {
	s := stored.Reveal()
	if s == "" || len(s) > maxEncodedLen {
		return false, false, fmt.Errorf("%w: empty or too long", ErrInvalidHash)
	}
	switch {
	case isBcrypt(s):
		if err := checkBcrypt(s); err != nil {
			return false, false, err
		}
		release, err := h.acquire(ctx)
		if err != nil {
			return false, false, err
		}
		defer release()
		start := time.Now()
		err = bcrypt.CompareHashAndPassword([]byte(s), []byte(p.Reveal()))
		h.observeHash("bcrypt", time.Since(start))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default: // unreachable after checkBcrypt; never echo the hash
			return false, false, fmt.Errorf("%w: bcrypt refused the hash", ErrInvalidHash)
		}
	case strings.HasPrefix(s, "$argon2id$"):
		a, err := parseArgon2id(s)
		if err != nil {
			return false, false, err
		}
		release, err := h.acquire(ctx)
		if err != nil {
			return false, false, err
		}
		defer release()
		key := h.derive(a, p.Reveal())
		if subtle.ConstantTimeCompare(key, a.key) != 1 {
			return false, false, nil
		}
		return true, h.weaker(a), nil
	default:
		return false, false, fmt.Errorf("%w: unknown scheme", ErrInvalidHash)
	}
}

// CheckStored reports whether Matches could verify stored: nil for a well
// formed argon2id or bcrypt hash within the cost bounds, otherwise the error
// Matches would fail with (wrapping ErrInvalidHash or ErrHashCost), found
// without any hashing work. Imports call it to refuse planted hashes.
func (h *Hasher) CheckStored(stored user.PasswordHash) error {
	s := stored.Reveal()
	switch {
	case s == "" || len(s) > maxEncodedLen:
		return fmt.Errorf("%w: empty or too long", ErrInvalidHash)
	case isBcrypt(s):
		return checkBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		_, err := parseArgon2id(s)
		return err
	}
	return fmt.Errorf("%w: unknown scheme", ErrInvalidHash)
}

// derive runs argon2id with a's parameters and salt, producing len(a.key)
// bytes (or Params.KeyLen for a new hash).
func (h *Hasher) derive(a argonHash, password string) []byte {
	keyLen := uint32(len(a.key))
	if keyLen == 0 {
		keyLen = h.p.KeyLen
	}
	start := time.Now()
	key := argon2.IDKey([]byte(password), a.salt, a.time, a.memory, a.threads, keyLen)
	h.observeHash("argon2id", time.Since(start))
	return key
}

// weaker reports whether a stored argon2id hash is cheaper to attack than
// one made with the current parameters.
func (h *Hasher) weaker(a argonHash) bool {
	return a.memory < h.p.Memory || a.time < h.p.Time ||
		len(a.salt) < int(h.p.SaltLen) || len(a.key) < int(h.p.KeyLen)
}

// acquire takes a hashing slot, waiting at most Params.QueueWait. It returns
// the function that gives the slot back.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		h.observeWait(0, false)
		return nil, fmt.Errorf("passwords: waiting for a hashing slot: %w", err)
	}
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}: // fast path: a slot is free
		h.observeWait(0, true)
		return release, nil
	default:
	}
	start := time.Now()
	timer := time.NewTimer(h.p.QueueWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		h.observeWait(time.Since(start), true)
		return release, nil
	case <-ctx.Done():
		h.observeWait(time.Since(start), false)
		return nil, fmt.Errorf("passwords: waiting for a hashing slot: %w", ctx.Err())
	case <-timer.C:
		h.observeWait(time.Since(start), false)
		return nil, fmt.Errorf("passwords: no hashing slot free within %v: %w", h.p.QueueWait, ports.ErrBusy)
	}
}

func (h *Hasher) observeWait(d time.Duration, acquired bool) {
	if h.p.Observer != nil {
		h.p.Observer.ObserveWait(d, acquired)
	}
}

func (h *Hasher) observeHash(scheme string, d time.Duration) {
	if h.p.Observer != nil {
		h.p.Observer.ObserveHash(scheme, d)
	}
}
