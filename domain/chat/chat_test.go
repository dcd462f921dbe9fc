package chat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/chat"
)

func TestParseTitle(t *testing.T) {
	for _, ok := range []string{"a", "Trip to Lisbon", strings.Repeat("ü", 100), "Ünïcødé 🚀 chat", "a  b"} {
		if _, err := chat.ParseTitle(ok); err != nil {
			t.Errorf("ParseTitle(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 101), " lead", "trail ", "\tTab", "new\nline", "bell\a", "nul\x00", "\xff", "nbsp\u00a0"} {
		if _, err := chat.ParseTitle(bad); err == nil {
			t.Errorf("ParseTitle(%q) accepted", bad)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("error echoes the input: %v", err)
		}
	}
}

func TestParseBody(t *testing.T) {
	for _, ok := range []string{"Hello", "line one\nline two\tindented", strings.Repeat("ß", 4000), " padded ", "🙂"} {
		if _, err := chat.ParseBody(ok); err != nil {
			t.Errorf("ParseBody(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 4001), " \n\t ", "carriage\rreturn", "esc\x1b[31m", "nul\x00", "\xff\xfe"} {
		if _, err := chat.ParseBody(bad); err == nil {
			t.Errorf("ParseBody(%q) accepted", bad)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "50": 50, "100": 100} {
		if got, err := chat.ParseLimit(s); err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %d, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "0", "101", "-1", "1.5", "ten", "1e2", " 5"} {
		if _, err := chat.ParseLimit(bad); err == nil {
			t.Errorf("ParseLimit(%q) accepted", bad)
		}
	}
}

func TestCursorRoundTripsAndRefusesForgeries(t *testing.T) {
	at := time.Date(2026, 12, 2, 8, 0, 0, 123456000, time.UTC)
	c := chat.Cursor{At: at, ID: uuid.Must(uuid.NewV7())}
	got, err := chat.ParseCursor(c.String())
	if err != nil || !got.At.Equal(at) || got.ID != c.ID {
		t.Fatalf("round trip: %v %v, want %v", got, err, c)
	}
	for _, bad := range []string{"", "x", c.String() + "A", c.String()[1:], "AAAA", strings.Repeat("A", 34), "not base64!"} {
		if _, err := chat.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

func TestParseIDOnlyTakesCanonicalUUIDs(t *testing.T) {
	id := uuid.New()
	if got, err := chat.ParseID(id.String()); err != nil || uuid.UUID(got) != id {
		t.Fatalf("ParseID: %v %v", got, err)
	}
	for _, bad := range []string{"", "123", id.String()[:35], "{" + id.String() + "}", "urn:uuid:" + id.String(), strings.ReplaceAll(id.String(), "-", "")} {
		if _, err := chat.ParseID(bad); err != chat.ErrNotFound {
			t.Errorf("ParseID(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

func TestRenameMovesUpdatedAtForwardOnly(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	title, _ := chat.ParseTitle("First")
	c := chat.New(chat.ID(uuid.New()), uuid.New(), title, t0)
	other, _ := chat.ParseTitle("Second")
	c.Rename(other, t0.Add(time.Minute))
	if c.Title() != other || !c.UpdatedAt().Equal(t0.Add(time.Minute)) || !c.CreatedAt().Equal(t0) {
		t.Fatalf("rename: %v %v %v", c.Title(), c.UpdatedAt(), c.CreatedAt())
	}
	c.Rename(title, t0)
	if !c.UpdatedAt().Equal(t0.Add(time.Minute)) {
		t.Fatalf("updatedAt moved back: %v", c.UpdatedAt())
	}
}
