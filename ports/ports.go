package ports

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable wraps any failure to reach a backing service (refused, timed
// out, pool exhausted). Adapters wrap it; the HTTP layer answers 503.
var ErrUnavailable = errors.New("ports: dependency unavailable")

// ErrBusy means a bounded resource (the password-hashing slots) could not be
// had within its wait; the HTTP layer answers 503 with Retry-After.
var ErrBusy = errors.New("ports: busy, try again later")

// Transactor runs fn so that every store call made with the context it is
// given, by the stores of any bounded context on the same backing store,
// commits together or not at all. fn's error rolls back and is returned.
// Called again inside fn, it nests: an inner failure undoes only the inner work.
type Transactor interface {
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// Clock tells the time; use cases never call time.Now.
type Clock interface{ Now() time.Time }

// IDs makes new unique identifiers (UUIDv7 in production).
type IDs interface{ NewUUID() [16]byte }
