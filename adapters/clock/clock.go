package clock

import (
	"crypto/rand"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

var (
	_ ports.Clock = System{}
	_ ports.IDs   = UUIDv7{}
)

// System is the machine's clock. Its zero value is ready to use and safe for
// concurrent use.
type System struct{}

// Now returns the current time in UTC, truncated to whole microseconds so that
// a time stored in PostgreSQL or SQLite reads back equal to the one written.
// The result carries no monotonic reading.
func (System) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// UUIDv7 makes time-ordered UUIDs (RFC 9562 version 7), which keep B-tree
// indexes compact. Its zero value is ready to use and safe for concurrent use.
type UUIDv7 struct{}

// NewUUID returns a new version 7 UUID. It never panics: should the random
// source fail, it falls back to a version 4 UUID.
func (UUIDv7) NewUUID() [16]byte {
	if u, err := uuid.NewV7(); err == nil {
		return u
	}
	if u, err := uuid.NewRandom(); err == nil {
		return u
	}
	// crypto/rand.Read never fails (Go 1.24 and later); uuid's reader may
	// have been replaced with one that does.
	var u uuid.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u
}
