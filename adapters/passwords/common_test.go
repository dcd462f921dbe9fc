package passwords

import "testing"

func TestCommonListSize(t *testing.T) {
	if n := len(commonPasswords()); n < 10000 {
		t.Errorf("common-password list has %d entries, want at least 10,000", n)
	}
}

func TestIsCommon(t *testing.T) {
	for _, s := range []string{"password1", "123456", "PASSWORD1", "Qwerty", "letmein", "trustno1"} {
		if !IsCommon(s) {
			t.Errorf("IsCommon(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"vK7#pq!Zr2^wLm9x", "Correct-Horse-9-Battery", ""} {
		if IsCommon(s) {
			t.Errorf("IsCommon(%q) = true, want false", s)
		}
	}
}

func TestNormalizeNFKC(t *testing.T) {
	cases := map[string]string{
		"ﬁre":            "fire",          // ligature
		"ＡＢＣ１２３":         "ABC123",        // full-width forms
		"Ⅻ":              "XII",           // Roman numeral
		"①":              "1",             // circled digit
		"e\u0301t\u00e9": "\u00e9t\u00e9", // decomposed é is composed
		"x\u00a0y":       "x y",           // no-break space
		"plain ascii":    "plain ascii",
	}
	for in, want := range cases {
		if got := NormalizeNFKC(in); got != want {
			t.Errorf("NormalizeNFKC(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkIsCommon(b *testing.B) {
	IsCommon("warm-up") // the set is built on first use
	b.ReportAllocs()
	for b.Loop() {
		IsCommon("Correct-Horse-9")
	}
}
