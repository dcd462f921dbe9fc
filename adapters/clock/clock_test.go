package clock_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/clock"
)

func TestSystemNowIsUTCAndMicrosecondPrecise(t *testing.T) {
	before := time.Now()
	now := clock.System{}.Now()
	after := time.Now()

	if now.Location() != time.UTC {
		t.Errorf("location = %v, want UTC", now.Location())
	}
	if now.Nanosecond()%1000 != 0 {
		t.Errorf("nanoseconds %d not a whole microsecond", now.Nanosecond())
	}
	if now.Before(before.Truncate(time.Microsecond)) || now.After(after) {
		t.Errorf("now %v not within [%v, %v]", now, before, after)
	}
	if !now.Equal(now.Round(0)) || now != now.Round(0) {
		t.Error("now carries a monotonic clock reading")
	}
}

func TestUUIDv7(t *testing.T) {
	ids := clock.UUIDv7{}
	prev := ids.NewUUID()
	for range 100 {
		id := ids.NewUUID()
		u := uuid.UUID(id)
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %v, want 7 RFC4122", u, u.Version(), u.Variant())
		}
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("%s does not sort after %s", u, uuid.UUID(prev))
		}
		prev = id
	}
}
