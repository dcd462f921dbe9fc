package passwords_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"example.com/usersvc/adapters/passwords"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// fast are parameters cheap enough for tests; the format and code path are
// those of production.
var fast = passwords.Params{Memory: 64, Time: 1, Threads: 1, MaxConcurrent: 4, QueueWait: time.Second}

const secret = "Correct-Horse-9"

func pw(t testing.TB, s string) user.Password {
	t.Helper()
	p, err := user.ContractPolicy(nil).ForCheck(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHashRoundTrip(t *testing.T) {
	h := passwords.NewHasher(fast)
	ctx := t.Context()
	hash, err := h.Hash(ctx, pw(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := h.Matches(ctx, hash, pw(t, secret))
	if err != nil || !ok || rehash {
		t.Errorf("right password: ok=%v rehash=%v err=%v, want true false nil", ok, rehash, err)
	}
	for _, wrong := range []string{"correct-horse-9", "Correct-Horse-", "Correct-Horse-9 ", "x"} {
		ok, rehash, err = h.Matches(ctx, hash, pw(t, wrong))
		if err != nil || ok || rehash {
			t.Errorf("wrong password %q: ok=%v rehash=%v err=%v, want false false nil", wrong, ok, rehash, err)
		}
	}
	again, err := h.Hash(ctx, pw(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	if again.Reveal() == hash.Reveal() {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestHashDefaultPHCFormat(t *testing.T) {
	hash, err := passwords.NewHasher(passwords.Params{}).Hash(t.Context(), pw(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt: 22 base64 characters; 32-byte key: 43.
	want := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !want.MatchString(hash.Reveal()) {
		t.Errorf("hash %q does not match %v", hash.Reveal(), want)
	}
}

// TestMatchesPHCBuiltIndependently verifies a PHC string assembled here from
// argon2.IDKey, so parsing is checked independently of the package's encoder.
func TestMatchesPHCBuiltIndependently(t *testing.T) {
	salt := []byte("0123456789abcdefXYZ") // 19 bytes: odd lengths are fine
	key := argon2.IDKey([]byte(secret), salt, 3, 256, 2, 24)
	enc := base64.RawStdEncoding
	hash := fmt.Sprintf("$argon2id$v=19$m=256,t=3,p=2$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key))

	h := passwords.NewHasher(fast)
	ok, rehash, err := h.Matches(t.Context(), user.NewPasswordHash(hash), pw(t, secret))
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v, want a match", ok, err)
	}
	if !rehash {
		t.Error("24-byte key is shorter than the configured 32: want needsRehash")
	}
}

func TestBcryptVerifiesAndNeedsRehash(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := passwords.NewHasher(fast)
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		hash := user.NewPasswordHash(prefix + string(b[4:]))
		ok, rehash, err := h.Matches(t.Context(), hash, pw(t, secret))
		if err != nil || !ok || !rehash {
			t.Errorf("%s right password: ok=%v rehash=%v err=%v, want true true nil", prefix, ok, rehash, err)
		}
		ok, rehash, err = h.Matches(t.Context(), hash, pw(t, "Wrong-Horse-9"))
		if err != nil || ok || rehash {
			t.Errorf("%s wrong password: ok=%v rehash=%v err=%v, want false false nil", prefix, ok, rehash, err)
		}
	}
}

func TestWeakerArgon2NeedsRehash(t *testing.T) {
	ctx := t.Context()
	current := passwords.NewHasher(passwords.Params{Memory: 128, Time: 2, Threads: 1})
	cases := []struct {
		name   string
		params passwords.Params
		want   bool
	}{
		{"same", passwords.Params{Memory: 128, Time: 2}, false},
		{"less memory", passwords.Params{Memory: 64, Time: 2}, true},
		{"fewer passes", passwords.Params{Memory: 128, Time: 1}, true},
		{"shorter key", passwords.Params{Memory: 128, Time: 2, KeyLen: 16}, true},
		{"stronger", passwords.Params{Memory: 256, Time: 3}, false},
	}
	for _, c := range cases {
		hash, err := passwords.NewHasher(c.params).Hash(ctx, pw(t, secret))
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash, err := current.Matches(ctx, hash, pw(t, secret))
		if err != nil || !ok || rehash != c.want {
			t.Errorf("%s: ok=%v rehash=%v err=%v, want true %v nil", c.name, ok, rehash, err, c.want)
		}
		// A failed match never asks for a rehash.
		if _, rehash, _ := current.Matches(ctx, hash, pw(t, "nope")); rehash {
			t.Errorf("%s: wrong password asked for a rehash", c.name)
		}
	}
}

// validArgon returns a well-formed argon2id PHC string with the given
// parameter section, for tampering.
func validArgon(params string) string {
	return "$argon2id$v=19$" + params + "$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)
}

func TestRefusesBadHashesBeforeWork(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte(secret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bc := string(b)
	cases := []struct {
		name string
		hash string
		want error
	}{
		{"empty", "", passwords.ErrInvalidHash},
		{"plain text", secret, passwords.ErrInvalidHash},
		{"argon2i", strings.Replace(validArgon("m=64,t=1,p=1"), "argon2id", "argon2i", 1), passwords.ErrInvalidHash},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA", passwords.ErrInvalidHash},
		{"4 GiB memory", validArgon("m=4194304,t=2,p=1"), passwords.ErrHashCost},
		{"memory over uint32", validArgon("m=4294967296,t=2,p=1"), passwords.ErrInvalidHash},
		{"memory below 8p", validArgon("m=8,t=1,p=2"), passwords.ErrHashCost},
		{"11 passes", validArgon("m=64,t=11,p=1"), passwords.ErrHashCost},
		{"zero passes", validArgon("m=64,t=0,p=1"), passwords.ErrHashCost},
		{"17 lanes", validArgon("m=1024,t=1,p=17"), passwords.ErrHashCost},
		{"zero lanes", validArgon("m=64,t=1,p=0"), passwords.ErrHashCost},
		{"negative", validArgon("m=-64,t=1,p=1"), passwords.ErrInvalidHash},
		{"leading zero", validArgon("m=064,t=1,p=1"), passwords.ErrInvalidHash},
		{"wrong order", validArgon("t=1,m=64,p=1"), passwords.ErrInvalidHash},
		{"extra parameter", validArgon("m=64,t=1,p=1,keyid=1"), passwords.ErrInvalidHash},
		{"version 16", strings.Replace(validArgon("m=64,t=1,p=1"), "v=19", "v=16", 1), passwords.ErrInvalidHash},
		{"no version", "$argon2id$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43), passwords.ErrInvalidHash},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + strings.Repeat("A", 43), passwords.ErrInvalidHash},
		{"huge salt", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 100) + "$" + strings.Repeat("A", 43), passwords.ErrInvalidHash},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA", passwords.ErrInvalidHash},
		{"padded base64", validArgon("m=64,t=1,p=1") + "=", passwords.ErrInvalidHash},
		{"bad base64", strings.Replace(validArgon("m=64,t=1,p=1"), "c2Fsd", "c2F!d", 1), passwords.ErrInvalidHash},
		{"too long", validArgon("m=64,t=1,p=1") + strings.Repeat("A", 300), passwords.ErrInvalidHash},
		{"bcrypt cost 17", bc[:4] + "17" + bc[6:], passwords.ErrHashCost},
		{"bcrypt cost 31", bc[:4] + "31" + bc[6:], passwords.ErrHashCost},
		{"bcrypt cost 99", bc[:4] + "99" + bc[6:], passwords.ErrInvalidHash},
		{"bcrypt truncated", bc[:59], passwords.ErrInvalidHash},
		{"bcrypt bad char", bc[:20] + "!" + bc[21:], passwords.ErrInvalidHash},
		{"bcrypt 2x", "$2x$" + bc[4:], passwords.ErrInvalidHash},
	}
	h := passwords.NewHasher(fast)
	for _, c := range cases {
		ok, rehash, err := h.Matches(t.Context(), user.NewPasswordHash(c.hash), pw(t, secret))
		if !errors.Is(err, c.want) || ok || rehash {
			t.Errorf("%s: ok=%v rehash=%v err=%v, want false false %v", c.name, ok, rehash, err, c.want)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, secret) || (len(c.hash) > 20 && strings.Contains(msg, c.hash[len(c.hash)-20:])) {
			t.Errorf("%s: error %q echoes the password or the hash", c.name, msg)
		}
	}
}

// TestPlantedHugeHashAllocatesNothing shows that a hash asking for 4 GiB is
// refused without the memory being allocated.
func TestPlantedHugeHashAllocatesNothing(t *testing.T) {
	h := passwords.NewHasher(fast)
	planted := user.NewPasswordHash(validArgon("m=4194304,t=2,p=1"))
	p := pw(t, secret)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, _, err := h.Matches(t.Context(), planted, p)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, passwords.ErrHashCost) {
		t.Fatalf("err = %v, want ErrHashCost", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("refusing the hash allocated %d bytes", n)
	}
	if took > time.Second {
		t.Errorf("refusing the hash took %v", took)
	}
}

// recorder is an Observer that counts what it is told.
type recorder struct {
	mu              sync.Mutex
	waits, refusals int
	hashes          map[string]int
}

func (r *recorder) ObserveWait(_ time.Duration, acquired bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits++
	if !acquired {
		r.refusals++
	}
}

func (r *recorder) ObserveHash(scheme string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hashes == nil {
		r.hashes = map[string]int{}
	}
	r.hashes[scheme]++
}

func TestConcurrencyIsBounded(t *testing.T) {
	rec := &recorder{}
	p := fast
	p.Memory, p.MaxConcurrent, p.QueueWait, p.Observer = 2048, 2, 30*time.Second, rec
	h := passwords.NewHasher(p)

	var peak atomic.Int32
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample the slots in use while the flood runs
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
				if n := int32(h.InUse()); n > peak.Load() {
					peak.Store(n)
				}
				runtime.Gosched()
			}
		}
	}()
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := h.Hash(t.Context(), pw(t, secret)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	if got := peak.Load(); got > 2 || got < 1 {
		t.Errorf("peak slots in use = %d, want 1 or 2 (MaxConcurrent)", got)
	}
	if h.InUse() != 0 {
		t.Errorf("%d slots still taken after every call returned", h.InUse())
	}
	if rec.waits != 12 || rec.refusals != 0 || rec.hashes["argon2id"] != 12 {
		t.Errorf("observer saw waits=%d refusals=%d hashes=%v, want 12 0 map[argon2id:12]", rec.waits, rec.refusals, rec.hashes)
	}
}

func TestParamsValidate(t *testing.T) {
	if err := passwords.DefaultParams().Validate(); err != nil {
		t.Errorf("DefaultParams: %v", err)
	}
	if err := (passwords.Params{}).Validate(); err != nil {
		t.Errorf("zero Params (all defaults): %v", err)
	}
	bad := []passwords.Params{
		{Memory: passwords.MaxMemoryKiB + 1},
		{Time: passwords.MaxTime + 1},
		{Threads: passwords.MaxThreads + 1},
		{SaltLen: 8},
		{KeyLen: 8},
		{KeyLen: 128},
		{MaxConcurrent: -1},
		{QueueWait: -time.Second},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, passwords.ErrParams) {
			t.Errorf("%+v: err = %v, want ErrParams", p, err)
		}
		// A hasher built from them does not panic; it refuses to hash.
		if _, err := passwords.NewHasher(p).Hash(t.Context(), pw(t, secret)); !errors.Is(err, passwords.ErrParams) {
			t.Errorf("%+v: Hash err = %v, want ErrParams", p, err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	h := passwords.NewHasher(fast)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, pw(t, secret)); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash: err = %v, want context.Canceled", err)
	}
	hash, err := h.Hash(t.Context(), pw(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Matches(ctx, hash, pw(t, secret)); !errors.Is(err, context.Canceled) || ok {
		t.Errorf("Matches: ok=%v err=%v, want false context.Canceled", ok, err)
	}
}

// TestUnknownUserCostsTheSameWork compares a login for an unknown username
// (the caller checks the password against a decoy hash made by the same
// hasher) with a wrong password for a real user: both run Matches on an
// argon2id hash of the current parameters, so their medians agree within a
// loose factor. It is a sanity check of equal work, not a timing attack test.
func TestUnknownUserCostsTheSameWork(t *testing.T) {
	if testing.Short() {
		t.Skip("timing comparison")
	}
	p := fast
	p.Memory, p.MaxConcurrent = 4096, 1
	h := passwords.NewHasher(p)
	ctx := t.Context()
	real, err := h.Hash(ctx, pw(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	decoy, err := h.Hash(ctx, pw(t, "decoy-password-never-used"))
	if err != nil {
		t.Fatal(err)
	}
	timeMatch := func(hash user.PasswordHash) time.Duration {
		runtime.GC() // so one call does not pay for the last one's garbage
		start := time.Now()
		ok, _, err := h.Matches(ctx, hash, pw(t, "Guess-Work-1"))
		took := time.Since(start)
		if err != nil || ok {
			t.Fatalf("ok=%v err=%v, want false nil", ok, err)
		}
		return took
	}
	timeMatch(real) // warm up
	var wrongs, misses []time.Duration
	for range 15 { // interleaved, so drift in machine load hits both alike
		misses = append(misses, timeMatch(decoy))
		wrongs = append(wrongs, timeMatch(real))
	}
	slices.Sort(wrongs)
	slices.Sort(misses)
	wrong, miss := wrongs[len(wrongs)/2], misses[len(misses)/2]
	t.Logf("median wrong password %v, unknown user (decoy) %v", wrong, miss)
	if miss > 2*wrong || wrong > 2*miss {
		t.Errorf("medians differ by more than 2x: wrong password %v, decoy %v", wrong, miss)
	}
}

func BenchmarkHash(b *testing.B) {
	h := passwords.NewHasher(passwords.DefaultParams())
	p := pw(b, secret)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(b.Context(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	h := passwords.NewHasher(passwords.DefaultParams())
	p := pw(b, secret)
	hash, err := h.Hash(b.Context(), p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Matches(b.Context(), hash, p); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMatchesDecoy is BenchmarkMatches for an unknown username: a wrong
// password against the caller's decoy hash. Compare its ns/op with
// BenchmarkMatches.
func BenchmarkMatchesDecoy(b *testing.B) {
	h := passwords.NewHasher(passwords.DefaultParams())
	decoy, err := h.Hash(b.Context(), pw(b, "decoy-password-never-used"))
	if err != nil {
		b.Fatal(err)
	}
	p := pw(b, secret)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Matches(b.Context(), decoy, p); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

var _ userports.PasswordHasher = (*passwords.Hasher)(nil)
