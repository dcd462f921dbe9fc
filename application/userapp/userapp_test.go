package userapp_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"example.com/usersvc/adapters/clock"
	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/adapters/passwords"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var settings = userapp.Settings{
	AccessTTL:             15 * time.Minute,
	RefreshTTL:            time.Hour,
	SessionMaxAge:         150 * time.Minute,
	ReuseGrace:            10 * time.Second,
	SessionsPerUser:       3,
	EndedSessionRetention: time.Hour + time.Minute,
	CleanUpBatchTimeout:   5 * time.Second,
}

// world is every use case built on memory stores, a real hasher with small
// parameters, real Ed25519 tokens and a manual clock.
type world struct {
	clock       *manualClock
	db          *memory.DB
	store       *memory.UserStore
	outbox      *memory.Outbox
	tokens      *tokens.Issuer
	revocations *memory.Revocations
	*userapp.UseCases
	policy user.PasswordPolicy
	ctx    context.Context
	deps   userapp.Deps
}

func newWorld(t *testing.T) *world {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tokens.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db := memory.NewDB()
	w := &world{clock: &manualClock{now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}, db: db, store: memory.NewUserStore(db), outbox: memory.NewOutbox(db), ctx: context.Background()}
	w.policy = user.ContractPolicy(nil)
	w.tokens = tokens.NewIssuer(ring, w.clock, tokens.Options{Issuer: "test", Audience: "test", AccessTTL: settings.AccessTTL})
	w.revocations = w.store.Revocations()
	hasher := passwords.NewHasher(passwords.Params{Memory: 8192, Time: 1, Threads: 1, MaxConcurrent: 4, QueueWait: 5 * time.Second})
	w.deps = userapp.Deps{
		Users: w.store.Users(), Sessions: w.store.Sessions(), Tx: db.Transactor(), Hasher: hasher,
		Tokens: w.tokens, Clock: w.clock, IDs: clock.UUIDv7{}, Events: w.outbox, HashChecker: hasher, Settings: settings,
	}
	w.UseCases, err = userapp.NewUseCases(w.ctx, w.deps)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustName(t *testing.T, s string) user.Username {
	t.Helper()
	n, err := user.ParseUsername(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) password(t *testing.T, s string) user.Password {
	t.Helper()
	p, err := w.policy.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) checked(s string) user.Password {
	p, _ := w.policy.ForCheck(s)
	return p
}

func (w *world) mustSignUp(t *testing.T, name, pw string) userapp.Tokens {
	t.Helper()
	tok, err := w.SignUp.Do(w.ctx, userapp.SignUpInput{Username: mustName(t, name), Password: w.password(t, pw)})
	if err != nil {
		t.Fatalf("sign up %s: %v", name, err)
	}
	return tok
}

// authenticate does what the platform's authenticator does for every bearer
// route: verify the access token, then refuse it if its session has ended.
func (w *world) authenticate(access string) (ports.Principal, error) {
	c, err := w.tokens.VerifyAccess(access)
	if err != nil {
		return ports.Principal{}, err
	}
	ended, err := w.revocations.Ended(w.ctx, c.Principal)
	if err != nil {
		return ports.Principal{}, err
	}
	if ended {
		return ports.Principal{}, ports.ErrUnauthenticated
	}
	return c.Principal, nil
}

// caller is the principal of a live session's access token.
func (w *world) caller(t *testing.T, tok userapp.Tokens) ports.Principal {
	t.Helper()
	p, err := w.authenticate(tok.Access)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

// wantRefused fails unless the access token is refused by the authenticator.
func (w *world) wantRefused(t *testing.T, what string, tok userapp.Tokens) {
	t.Helper()
	if _, err := w.authenticate(tok.Access); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("%s: access token still accepted (%v)", what, err)
	}
}

func TestSignUpStartsASessionAndKeepsUsernamesUnique(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	if tok.Access == "" || tok.Refresh == "" || tok.AccessExpiresIn != settings.AccessTTL || tok.RefreshMaxAge != settings.RefreshTTL {
		t.Fatalf("tokens: %+v", tok)
	}
	u, err := w.Profile.Do(w.ctx, w.caller(t, tok))
	if err != nil || u.Username().String() != "Alice" {
		t.Fatalf("profile: %v %v", u, err)
	}
	if strings.Contains(u.PasswordHash().Reveal(), "Sup3r$ecret") || !strings.HasPrefix(u.PasswordHash().Reveal(), "$argon2id$") {
		t.Fatal("password not hashed with argon2id")
	}
	_, err = w.SignUp.Do(w.ctx, userapp.SignUpInput{Username: mustName(t, "ALICE"), Password: w.password(t, "Sup3r$ecret")})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("duplicate signup: %v", err)
	}
}

func TestLogInAnswersTheSameForUnknownUserAndWrongPassword(t *testing.T) {
	w := newWorld(t)
	w.mustSignUp(t, "Alice", "Sup3r$ecret")
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "alice"), Password: w.checked("Sup3r$ecret")}); err != nil {
		t.Fatalf("case-insensitive login: %v", err)
	}
	_, wrong := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("Wr0ng$pass")})
	_, unknown := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Bob"), Password: w.checked("Sup3r$ecret")})
	if wrong != user.ErrInvalidCredentials || unknown != user.ErrInvalidCredentials {
		t.Fatalf("want the same sentinel for both: %v / %v", wrong, unknown)
	}
}

// pressedHasher is a real hasher whose Matches the test can make fail with
// ports.ErrBusy before comparing, as a full hashing queue does, or make end
// the caller's context right after comparing. It counts the comparisons.
type pressedHasher struct {
	userports.PasswordHasher
	busy     atomic.Bool
	cancel   context.CancelFunc // when set, called after each comparison
	compared atomic.Int64
}

func (h *pressedHasher) Matches(ctx context.Context, stored user.PasswordHash, p user.Password) (bool, bool, error) {
	if h.busy.Load() {
		return false, false, fmt.Errorf("no hashing slot: %w", ports.ErrBusy)
	}
	ok, rehash, err := h.PasswordHasher.Matches(ctx, stored, p)
	if err == nil {
		h.compared.Add(1)
	}
	if h.cancel != nil {
		h.cancel()
	}
	return ok, rehash, err
}

// logInWith builds a LogIn on w's stores that compares passwords with h.
func (w *world) logInWith(t *testing.T, h userports.PasswordHasher) *userapp.LogIn {
	t.Helper()
	uc, err := userapp.NewUseCases(w.ctx, userapp.Deps{
		Users: w.store.Users(), Sessions: w.store.Sessions(), Tx: w.db.Transactor(), Hasher: h,
		Tokens: w.tokens, Clock: w.clock, IDs: clock.UUIDv7{}, Events: w.outbox, Settings: settings,
	})
	if err != nil {
		t.Fatal(err)
	}
	return uc.LogIn
}

// TestLogInUnderHashingPressureAnswersTheSameForUnknownUserAndWrongPassword:
// the decoy comparison of an unknown username waits for the same slots and
// fails the same way as a real one, so a busy hasher cannot tell them apart.
func TestLogInUnderHashingPressureAnswersTheSameForUnknownUserAndWrongPassword(t *testing.T) {
	w := newWorld(t)
	w.mustSignUp(t, "Alice", "Sup3r$ecret")
	h := &pressedHasher{PasswordHasher: passwords.NewHasher(passwords.Params{Memory: 8192, Time: 1, Threads: 1})}
	logIn := w.logInWith(t, h)
	wrong := userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("Wr0ng$pass")}
	unknown := userapp.LogInInput{Username: mustName(t, "Bob"), Password: w.checked("Wr0ng$pass")}

	h.busy.Store(true)
	for name, in := range map[string]userapp.LogInInput{"wrong password": wrong, "unknown username": unknown} {
		if _, err := logIn.Do(w.ctx, in); !errors.Is(err, ports.ErrBusy) || errors.Is(err, user.ErrInvalidCredentials) {
			t.Errorf("%s with no hashing slot: %v, want ports.ErrBusy", name, err)
		}
	}
	h.busy.Store(false)

	ended, cancel := context.WithCancel(w.ctx)
	cancel()
	for name, in := range map[string]userapp.LogInInput{"wrong password": wrong, "unknown username": unknown} {
		if _, err := logIn.Do(ended, in); !errors.Is(err, context.Canceled) || errors.Is(err, user.ErrInvalidCredentials) {
			t.Errorf("%s with its context ended: %v, want context.Canceled", name, err)
		}
	}
	if n := h.compared.Load(); n != 0 {
		t.Errorf("%d passwords compared while busy or cancelled, want 0", n)
	}
}

// TestLogInCountsAComparisonThatFinishedAfterItsContextEnded: a wrong
// password that was compared is a failed login even when the client left
// during the comparison, so a caller keeps the attempt it took.
func TestLogInCountsAComparisonThatFinishedAfterItsContextEnded(t *testing.T) {
	w := newWorld(t)
	w.mustSignUp(t, "Alice", "Sup3r$ecret")
	h := &pressedHasher{PasswordHasher: passwords.NewHasher(passwords.Params{Memory: 8192, Time: 1, Threads: 1})}
	logIn := w.logInWith(t, h)
	for _, name := range []string{"Alice", "Bob"} {
		ctx, cancel := context.WithCancel(w.ctx)
		h.cancel = cancel
		_, err := logIn.Do(ctx, userapp.LogInInput{Username: mustName(t, name), Password: w.checked("Wr0ng$pass")})
		cancel()
		if err != user.ErrInvalidCredentials {
			t.Errorf("%s, wrong password compared as the context ended: %v, want user.ErrInvalidCredentials", name, err)
		}
	}
}

func TestLogInRehashesALegacyBcryptHash(t *testing.T) {
	w := newWorld(t)
	legacy, err := bcrypt.GenerateFromPassword([]byte("Legacy$Pass1"), 4)
	if err != nil {
		t.Fatal(err)
	}
	u := user.New(user.ID{7}, mustName(t, "Old"), user.NewPasswordHash(string(legacy)), user.FullName{}, w.clock.Now())
	if err := w.store.Users().Add(w.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "old"), Password: w.checked("Legacy$Pass1")}); err != nil {
		t.Fatalf("login with bcrypt hash: %v", err)
	}
	stored, _ := w.store.Users().ByUsername(w.ctx, mustName(t, "Old"))
	if !strings.HasPrefix(stored.PasswordHash().Reveal(), "$argon2id$") {
		t.Fatal("bcrypt hash was not replaced by argon2id on login")
	}
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "old"), Password: w.checked("Legacy$Pass1")}); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	w := newWorld(t)
	first := w.mustSignUp(t, "Alice", "Sup3r$ecret")

	second, err := w.Refresh.Do(w.ctx, first.Refresh, user.Client{})
	if err != nil || second.Refresh == first.Refresh {
		t.Fatalf("rotation: %v, same token %v", err, second.Refresh == first.Refresh)
	}
	w.clock.Advance(settings.ReuseGrace)
	again, err := w.Refresh.Do(w.ctx, first.Refresh, user.Client{})
	if err != nil || again.Refresh != second.Refresh {
		t.Fatalf("replay within grace must return the current token: %v", err)
	}
	w.clock.Advance(time.Second)
	if _, err := w.Refresh.Do(w.ctx, first.Refresh, user.Client{}); !errors.Is(err, user.ErrRefreshReused) || !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("replay after grace: %v, want ErrRefreshReused", err)
	}
	if _, err := w.Refresh.Do(w.ctx, second.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("the stolen session's newest token must die too: %v", err)
	}
	w.wantRefused(t, "the stolen session's access token must die at once", second)
}

func TestRefreshWithATokenOlderThanTheRetiredOneIsTheft(t *testing.T) {
	w := newWorld(t)
	t1 := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	t2, _ := w.Refresh.Do(w.ctx, t1.Refresh, user.Client{})
	t3, err := w.Refresh.Do(w.ctx, t2.Refresh, user.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Refresh.Do(w.ctx, t1.Refresh, user.Client{}); !errors.Is(err, user.ErrRefreshReused) {
		t.Fatalf("older token: %v", err)
	}
	if _, err := w.Refresh.Do(w.ctx, t3.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("session must be revoked: %v", err)
	}
}

func TestSessionsEndAtTheirAbsoluteAndIdleLifetimes(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	for i := 0; i < 2; i++ { // refreshing keeps it alive past one idle lifetime
		w.clock.Advance(settings.RefreshTTL - time.Minute)
		var err error
		if tok, err = w.Refresh.Do(w.ctx, tok.Refresh, user.Client{}); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	w.clock.Advance(settings.RefreshTTL - time.Minute) // now past SessionMaxAge
	if _, err := w.Refresh.Do(w.ctx, tok.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("refresh past the absolute lifetime: %v", err)
	}

	idle := w.mustSignUp(t, "Bob", "Sup3r$ecret")
	w.clock.Advance(settings.RefreshTTL + time.Second)
	if _, err := w.Refresh.Do(w.ctx, idle.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("refresh after the idle lifetime: %v", err)
	}
}

func TestLogOutRevokesOnlyThatSession(t *testing.T) {
	w := newWorld(t)
	a := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	b, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("Sup3r$ecret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.LogOut.Do(w.ctx, a.Refresh); err != nil {
		t.Fatal(err)
	}
	w.wantRefused(t, "logged-out access token", a)
	if _, err := w.LogOut.Do(w.ctx, a.Refresh); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := w.Profile.Do(w.ctx, w.caller(t, b)); err != nil {
		t.Fatalf("other session must stay: %v", err)
	}
}

func TestAccessAndRefreshTokensAreNotInterchangeable(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	if _, err := w.authenticate(tok.Refresh); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("refresh token as access: %v", err)
	}
	if _, err := w.Refresh.Do(w.ctx, tok.Access, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("access token as refresh: %v", err)
	}
}

func TestReplaceProfile(t *testing.T) {
	w := newWorld(t)
	mine := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	other, _ := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("Sup3r$ecret")})
	w.mustSignUp(t, "Bob", "Sup3r$ecret")
	me := w.caller(t, mine)
	full, _ := user.ParseFullName("Alice Smith")

	_, err := w.ReplaceProfile.Do(w.ctx, me, userapp.ReplaceInput{Username: mustName(t, "Alice"), Password: w.password(t, "N3w$ecret"), CurrentPassword: w.checked("Wr0ng$pass")})
	if !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("wrong current password: %v", err)
	}
	_, err = w.ReplaceProfile.Do(w.ctx, me, userapp.ReplaceInput{Username: mustName(t, "BOB"), Password: w.password(t, "Sup3r$ecret"), CurrentPassword: w.checked("Sup3r$ecret")})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("rename to a taken name: %v", err)
	}
	// Same password: nothing to revoke.
	changed, err := w.ReplaceProfile.Do(w.ctx, me, userapp.ReplaceInput{Username: mustName(t, "alice"), FullName: full, Password: w.password(t, "Sup3r$ecret"), CurrentPassword: w.checked("Sup3r$ecret")})
	u := changed.User
	if err != nil || u.Username().String() != "alice" || u.FullName() != full || changed.PasswordChanged {
		t.Fatalf("replace: %v %v", u, err)
	}
	if _, err := w.Profile.Do(w.ctx, w.caller(t, other)); err != nil {
		t.Fatalf("unchanged password must not revoke other sessions: %v", err)
	}
	// New password: other sessions end, this one stays; an absent full name clears it.
	changed, err = w.ReplaceProfile.Do(w.ctx, me, userapp.ReplaceInput{Username: mustName(t, "alice"), Password: w.password(t, "N3w$ecretX"), CurrentPassword: w.checked("Sup3r$ecret")})
	if err != nil || !changed.User.FullName().IsZero() || !changed.PasswordChanged {
		t.Fatalf("replace with new password: %v %v", u, err)
	}
	w.wantRefused(t, "other session after password change", other)
	if _, err := w.Refresh.Do(w.ctx, other.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("other session's refresh after password change: %v", err)
	}
	if _, err := w.Profile.Do(w.ctx, me); err != nil {
		t.Fatalf("the changing session stays signed in: %v", err)
	}
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("N3w$ecretX")}); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
}

func TestPatchProfile(t *testing.T) {
	w := newWorld(t)
	me := w.caller(t, w.mustSignUp(t, "Alice", "Sup3r$ecret"))
	before, _ := w.Profile.Do(w.ctx, me)
	w.clock.Advance(time.Second)

	changed, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{})
	u := changed.User
	if err != nil || !u.UpdatedAt().Equal(before.UpdatedAt()) {
		t.Fatalf("empty patch changes nothing: %v %v", u, err)
	}
	full, _ := user.ParseFullName("Anne-Marie")
	if changed, err = w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{FullName: &full}); err != nil || changed.User.FullName() != full || changed.User.Username().String() != "Alice" {
		t.Fatalf("set full name: %v %v", changed.User, err)
	}
	if !changed.User.UpdatedAt().After(before.UpdatedAt()) {
		t.Fatal("updated_at did not move")
	}
	var none user.FullName
	if changed, err = w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{FullName: &none}); err != nil || !changed.User.FullName().IsZero() {
		t.Fatalf("clear full name: %v %v", changed.User, err)
	}
	pw := w.password(t, "N3w$ecret")
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{Password: &pw}); !errors.Is(err, user.ErrPasswordRequired) {
		t.Fatalf("password without current: %v", err)
	}
	wrong := w.checked("nope")
	if _, err := w.PatchProfile.Do(w.ctx, me, userapp.PatchInput{Password: &pw, CurrentPassword: &wrong}); !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("wrong current: %v", err)
	}
	after, _ := w.Profile.Do(w.ctx, me)
	if ok := strings.HasPrefix(after.PasswordHash().Reveal(), "$argon2id$"); !ok {
		t.Fatal("hash lost")
	}
}

func TestDeleteAccountRemovesUserAndSessions(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	me := w.caller(t, tok)
	if err := w.DeleteAccount.Do(w.ctx, me); err != nil {
		t.Fatal(err)
	}
	w.wantRefused(t, "access token after delete", tok)
	if _, err := w.Profile.Do(w.ctx, me); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("profile after delete: %v", err)
	}
	if _, err := w.Refresh.Do(w.ctx, tok.Refresh, user.Client{}); !errors.Is(err, user.ErrSessionInvalid) {
		t.Fatalf("refresh after delete: %v", err)
	}
	if _, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "Alice"), Password: w.checked("Sup3r$ecret")}); !errors.Is(err, user.ErrInvalidCredentials) {
		t.Fatalf("login after delete: %v", err)
	}
	if err := w.DeleteAccount.Do(w.ctx, me); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestConcurrentRefreshesAllGetTheSameNewToken(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	var wg sync.WaitGroup
	results := make([]string, 10)
	errs := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := w.Refresh.Do(w.ctx, tok.Refresh, user.Client{})
			results[i], errs[i] = got.Refresh, err
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("refresh %d: %v (same token: %v)", i, errs[i], results[i] == results[0])
		}
	}
	if _, err := w.Refresh.Do(w.ctx, results[0], user.Client{}); err != nil {
		t.Fatalf("the one live token refreshes: %v", err)
	}
}

func TestLogInWithAnUnusableStoredHashFailsLikeAWrongPassword(t *testing.T) {
	w := newWorld(t)
	planted := "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	u := user.New(user.ID{9}, mustName(t, "Planted"), user.NewPasswordHash(planted), user.FullName{}, w.clock.Now())
	if err := w.store.Users().Add(w.ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := w.LogIn.Do(w.ctx, userapp.LogInInput{Username: mustName(t, "planted"), Password: w.checked("Sup3r$ecret")})
	if !errors.Is(err, user.ErrInvalidCredentials) || strings.Contains(err.Error(), planted) {
		t.Fatalf("planted hash: %v", err)
	}
}

func TestAccessTokensNeverOutliveTheirSession(t *testing.T) {
	w := newWorld(t)
	tok := w.mustSignUp(t, "Alice", "Sup3r$ecret")
	end := w.clock.Now().Add(settings.SessionMaxAge)
	for _, step := range []time.Duration{55 * time.Minute, 55 * time.Minute, 30 * time.Minute} {
		w.clock.Advance(step)
		var err error
		if tok, err = w.Refresh.Do(w.ctx, tok.Refresh, user.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	if tok.AccessExpiresIn != 10*time.Minute {
		t.Fatalf("expires_in %v ten minutes before the session's end, want 10m", tok.AccessExpiresIn)
	}
	claims, err := w.tokens.VerifyAccess(tok.Access)
	if err != nil || !claims.ExpiresAt.Equal(end) {
		t.Fatalf("access token expires %v (%v), want the session's end %v", claims.ExpiresAt, err, end)
	}
}
