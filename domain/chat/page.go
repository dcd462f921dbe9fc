package chat

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Limits of a page.
const (
	// DefaultLimit is the page size when a request names none.
	DefaultLimit = 50
	// MaxLimit is the largest page a request may ask for.
	MaxLimit = 100
)

// Cursor is a position in a list that is ordered newest first: by creation
// time, then by id. A page that continues after a cursor holds only items
// strictly older than it, so walking pages returns each item once, even while
// new items are added. Its text form is opaque to clients.
type Cursor struct {
	At time.Time
	ID uuid.UUID
}

// cursorVersion is the first byte of a cursor's binary form, so the form can
// change without misreading old cursors.
const cursorVersion = 1

var errCursor = errors.New("must be the next_cursor of a previous page")

// String returns the cursor's opaque text form: unpadded base64url of a
// version byte, the time in microseconds since 1970 and the id.
func (c Cursor) String() string {
	var b [25]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(c.At.UnixMicro()))
	copy(b[9:], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseCursor reads a cursor's text form. Its error text is safe to show a
// client.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != cursorVersion {
		return Cursor{}, errCursor
	}
	micros := int64(binary.BigEndian.Uint64(b[1:9]))
	if micros < 0 {
		return Cursor{}, errCursor
	}
	var id uuid.UUID
	copy(id[:], b[9:])
	return Cursor{At: time.UnixMicro(micros).UTC(), ID: id}, nil
}

// ParseLimit reads a page size: a whole number from 1 to MaxLimit. Its error
// text is safe to show a client.
func ParseLimit(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, errors.New("must be a whole number from 1 to " + strconv.Itoa(MaxLimit))
	}
	return n, nil
}

// PageRequest asks for up to Limit items after a position; a nil After asks
// for the newest items.
type PageRequest struct {
	Limit int
	After *Cursor
}

// Page is one page of a list, newest first. Next is the position to continue
// from, or nil when no older item exists.
type Page[T any] struct {
	Items []T
	Next  *Cursor
}
