package user_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"example.com/usersvc/domain/user"
)

func TestParseUsername(t *testing.T) {
	for _, ok := range []string{"a", "Alice42", strings.Repeat("z", 50), "0"} {
		if _, err := user.ParseUsername(ok); err != nil {
			t.Errorf("ParseUsername(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("z", 51), "a b", "a_b", "ä", "x' OR '1'='1", "a\x00", "\xff"} {
		if _, err := user.ParseUsername(bad); err == nil {
			t.Errorf("ParseUsername(%q) accepted", bad)
		}
	}
	u, _ := user.ParseUsername("Alice")
	if u.String() != "Alice" || u.Key() != "alice" {
		t.Errorf("Username keeps case and folds Key: got %q / %q", u.String(), u.Key())
	}
}

func TestParseFullName(t *testing.T) {
	for _, ok := range []string{"Anne-Marie", "José Núñez", "O'Brien", "Alice Smith-Jones", "李小龍", "Zoë", "e\u0301mile", strings.Repeat("a", 100)} {
		if _, err := user.ParseFullName(ok); err != nil {
			t.Errorf("ParseFullName(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", " Anne", "Anne ", "-Anne", "Anne-", "Anne--Marie", "Anne  Marie", "R2D2", "a\x00b", strings.Repeat("a", 101), "\u0301e", "Anne-'Marie", "\xff"} {
		if _, err := user.ParseFullName(bad); err == nil {
			t.Errorf("ParseFullName(%q) accepted", bad)
		}
	}
}

func TestContractPasswordPolicy(t *testing.T) {
	policy := user.ContractPolicy(func(s string) bool { return s == "Passw0rd!" })
	if _, err := policy.Parse("Sup3r$ecret"); err != nil {
		t.Fatalf("strong password refused: %v", err)
	}
	cases := map[string]string{
		"Sh0rt!":                         "8 to 25",
		"Aa1!" + strings.Repeat("x", 22): "8 to 25",
		"nouppercase1!":                  "upper-case",
		"NOLOWERCASE1!":                  "lower-case",
		"NoDigitsHere!":                  "digit",
		"NoSymbols123":                   "symbol",
		"Passw0rd!":                      "too common",
	}
	for pw, want := range cases {
		_, err := policy.Parse(pw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want error mentioning %q", pw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("error echoes the password: %v", err)
		}
	}
	_, err := policy.Parse("abc")
	for _, part := range []string{"8 to 25", "upper-case", "digit", "symbol"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("every broken part is reported: %v lacks %q", err, part)
		}
	}
}

func TestNISTPasswordPolicy(t *testing.T) {
	upper := func(s string) string { return strings.ToUpper(s) } // stands in for NFKC
	policy := user.NISTPolicy(upper, nil)
	if _, err := policy.Parse("correct horse battery"); err != nil {
		t.Errorf("long passphrase without composition refused: %v", err)
	}
	if _, err := policy.Parse("short phrase"); err == nil {
		t.Error("14 characters accepted")
	}
	if _, err := policy.Parse(strings.Repeat("ü", 129)); err == nil {
		t.Error("129 characters accepted")
	}
	p, err := policy.Parse("  spaces are kept  ")
	if err != nil || p.Reveal() != "  SPACES ARE KEPT  " {
		t.Errorf("normalised, never trimmed: got %q, %v", p.Reveal(), err)
	}
	checked, _ := policy.ForCheck("abc")
	if checked.Reveal() != "ABC" {
		t.Errorf("ForCheck normalises too: %q", checked.Reveal())
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	p, _ := user.ContractPolicy(nil).Parse("Sup3r$ecret")
	h := user.NewPasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "p", p, "h", h)
	out := fmt.Sprint(p, h) + fmt.Sprintf("%v %+v %#v %s", p, h, p, h) + logs.String()
	for _, secret := range []string{"Sup3r$ecret", "argon2id"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func TestUserChangesMoveUpdatedAt(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	name, _ := user.ParseUsername("Alice")
	u := user.New(user.ID{1}, name, user.NewPasswordHash("h"), user.FullName{}, t0)
	other, _ := user.ParseUsername("Bob")
	u.Rename(other, t0.Add(time.Minute))
	if u.Username() != other || !u.UpdatedAt().Equal(t0.Add(time.Minute)) || !u.CreatedAt().Equal(t0) {
		t.Errorf("rename: %v %v %v", u.Username(), u.UpdatedAt(), u.CreatedAt())
	}
	u.SetFullName(user.FullName{}, t0) // an earlier clock never moves updatedAt back
	if !u.UpdatedAt().Equal(t0.Add(time.Minute)) || !u.FullName().IsZero() {
		t.Errorf("updatedAt moved back: %v", u.UpdatedAt())
	}
}

func TestSessionJudgeReplay(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	old, prev, cur := user.TokenID{1}, user.TokenID{2}, user.TokenID{3}
	s := user.Session{
		ExpiresAt: now.Add(time.Hour),
		Current:   user.RefreshToken{ID: cur, ExpiresAt: now.Add(time.Hour)},
		Previous:  prev,
		RotatedAt: now,
	}
	grace := 10 * time.Second
	check := func(name string, s user.Session, tok user.TokenID, at time.Time, grace time.Duration, want user.Replay) {
		t.Helper()
		if got := s.JudgeReplay(tok, at, grace); got != want {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("just retired, within grace", s, prev, now.Add(grace), grace, user.ReplayWithinGrace)
	check("just retired, after grace", s, prev, now.Add(grace+time.Microsecond), grace, user.ReplayTheft)
	check("older than the retired one", s, old, now, grace, user.ReplayTheft)
	check("grace off", s, prev, now, 0, user.ReplayTheft)
	revoked := s
	revoked.RevokedAt = now
	check("revoked", revoked, prev, now, grace, user.ReplayDead)
	check("absolute end passed", s, prev, now.Add(2*time.Hour), time.Hour*3, user.ReplayDead)
}

func TestParseSessionName(t *testing.T) {
	for _, ok := range []string{"Work laptop", "a", strings.Repeat("é", 64), " padded ", "Ноутбук 🖥"} {
		if n, err := user.ParseSessionName(ok); err != nil || n.String() != ok {
			t.Errorf("ParseSessionName(%q) = %q, %v; want it kept as given", ok, n, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("é", 65), "   ", "\t", "tab\there", "new\nline", "nul\x00", "\xff", "\u2003\u00a0"} {
		if _, err := user.ParseSessionName(bad); err == nil {
			t.Errorf("ParseSessionName(%q) accepted", bad)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("ParseSessionName(%q) echoes its input: %v", bad, err)
		}
	}
}

func TestNewUserAgentKeepsAtMost256CleanCharacters(t *testing.T) {
	long := strings.Repeat("ü", 300)
	if got := user.NewUserAgent(long).String(); got != strings.Repeat("ü", user.MaxUserAgentChars) {
		t.Errorf("a 300-character user agent kept %d characters, want %d", len([]rune(got)), user.MaxUserAgentChars)
	}
	if got := user.NewUserAgent(" Mozilla/5.0\x00 (X11)\x7f\xff "); got.String() != "Mozilla/5.0 (X11)" {
		t.Errorf("control characters and invalid bytes: got %q", got)
	}
	for _, none := range []string{"", "   ", "\x01\x02"} {
		if ua := user.NewUserAgent(none); !ua.IsZero() {
			t.Errorf("NewUserAgent(%q) = %q, want none", none, ua)
		}
	}
	if got := user.NewUserAgent(user.NewUserAgent(long).String()); got != user.NewUserAgent(long) {
		t.Error("NewUserAgent is not idempotent: a stored value reads back differently")
	}
}

func TestSessionLiveUntilIsNeverPastItsAbsoluteEnd(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s := user.Session{ExpiresAt: now.Add(time.Hour), Current: user.RefreshToken{ExpiresAt: now.Add(30 * time.Minute)}}
	if !s.LiveUntil().Equal(now.Add(30 * time.Minute)) {
		t.Errorf("LiveUntil %v, want the refresh token's expiry", s.LiveUntil())
	}
	s.Current.ExpiresAt = now.Add(2 * time.Hour)
	if !s.LiveUntil().Equal(now.Add(time.Hour)) {
		t.Errorf("LiveUntil %v, want the absolute end", s.LiveUntil())
	}
}
