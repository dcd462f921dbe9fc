package passwords

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Bounds on argon2id parameters. A stored hash outside them is refused before
// any work is done, so a planted hash cannot exhaust memory or CPU; the
// hasher's own Params must lie within them too.
const (
	// MaxMemoryKiB is the most memory one hash may ask for: 256 MiB.
	MaxMemoryKiB = 256 * 1024
	// MaxTime is the most passes one hash may ask for.
	MaxTime = 10
	// MaxThreads is the highest degree of parallelism accepted.
	MaxThreads = 16
	// MinSaltLen is the shortest salt accepted in a stored hash; new hashes
	// use at least 16 bytes.
	MinSaltLen = 8
	// MaxSaltLen is the longest salt accepted.
	MaxSaltLen = 64
	// MinKeyLen is the shortest derived key accepted.
	MinKeyLen = 16
	// MaxKeyLen is the longest derived key accepted.
	MaxKeyLen = 64
)

// MaxBcryptCost is the highest bcrypt cost accepted in a stored hash (cost 16
// is about 5 s of CPU on a current core; each step doubles it).
const MaxBcryptCost = 16

// ErrParams means a Params value is outside the accepted bounds.
var ErrParams = errors.New("passwords: hasher parameters out of bounds")

// Params configures a Hasher. A zero field takes its value from DefaultParams.
type Params struct {
	// Memory is argon2id's memory cost in KiB.
	Memory uint32
	// Time is argon2id's number of passes.
	Time uint32
	// Threads is argon2id's degree of parallelism.
	Threads uint8
	// SaltLen is the length in bytes of the random salt of new hashes
	// (at least 16).
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key.
	KeyLen uint32
	// MaxConcurrent is how many hashes (Hash or Matches) may run at once.
	MaxConcurrent int
	// QueueWait is how long a call waits for a free slot before it fails
	// with ports.ErrBusy.
	QueueWait time.Duration
	// Observer, if not nil, is told about every wait and every hash.
	Observer Observer
}

// DefaultParams returns OWASP's argon2id recommendation (m=19456 KiB, t=2,
// p=1) with a 16-byte salt and a 32-byte key, one concurrent hash per CPU and
// a 2 s queue wait.
func DefaultParams() Params {
	return Params{
		Memory:        19456,
		Time:          2,
		Threads:       1,
		SaltLen:       16,
		KeyLen:        32,
		MaxConcurrent: runtime.NumCPU(),
		QueueWait:     2 * time.Second,
	}
}

// withDefaults returns p with every zero field taken from DefaultParams.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	if p.MaxConcurrent == 0 {
		p.MaxConcurrent = d.MaxConcurrent
	}
	if p.QueueWait == 0 {
		p.QueueWait = d.QueueWait
	}
	return p
}

// Validate reports, with an error wrapping ErrParams, whether p (its zero
// fields filled from DefaultParams) lies outside the bounds this package
// accepts. Configuration code calls it at start-up; a Hasher built from
// invalid Params refuses to Hash.
func (p Params) Validate() error {
	p = p.withDefaults()
	switch {
	case p.Threads > MaxThreads:
		return fmt.Errorf("%w: threads %d above %d", ErrParams, p.Threads, MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB not within [%d, %d]", ErrParams, p.Memory, 8*uint32(p.Threads), MaxMemoryKiB)
	case p.Time > MaxTime:
		return fmt.Errorf("%w: time %d above %d", ErrParams, p.Time, MaxTime)
	case p.SaltLen < 16 || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("%w: salt length %d not within [16, %d]", ErrParams, p.SaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length %d not within [%d, %d]", ErrParams, p.KeyLen, MinKeyLen, MaxKeyLen)
	case p.MaxConcurrent < 1:
		return fmt.Errorf("%w: max concurrent %d below 1", ErrParams, p.MaxConcurrent)
	case p.QueueWait < 0:
		return fmt.Errorf("%w: negative queue wait", ErrParams)
	}
	return nil
}

// Observer is told how the hasher is doing, so that metrics can be attached
// without this package knowing about them. Its methods are called from many
// goroutines at once and must be quick.
type Observer interface {
	// ObserveWait reports how long a call waited for a hashing slot and
	// whether it got one (false: busy or its context ended).
	ObserveWait(wait time.Duration, acquired bool)
	// ObserveHash reports one key derivation: its scheme ("argon2id" or
	// "bcrypt") and how long it took.
	ObserveHash(scheme string, took time.Duration)
}
