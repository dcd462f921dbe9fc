package bootstrap

import (
	"strings"
	"testing"
)

// TestImportShortRowUnderARepeatedHeaderNameIsRefused: a header that names
// a column twice still places the later columns by position, so a row
// shorter than the header is refused (not read past its end).
func TestImportShortRowUnderARepeatedHeaderNameIsRefused(t *testing.T) {
	file := "note,note,id,username,password_hash,full_name,created_at\n" +
		"a,b,c,d,e,f\n"
	dec, err := newImportDecoder(strings.NewReader(file), "users.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rec := range dec.records() {
		got = append(got, rec.Malformed)
	}
	if len(got) != 1 || got[0] != "has 6 fields, the header 7" {
		t.Fatalf("records %q, want one refused as having 6 fields of the header's 7", got)
	}
}
