package bootstrap_test

// End-to-end proofs of the security hardening (issue 3), through the real fx
// app and router: password storage and upgrades, the legacy import path,
// planted hashes, user enumeration by timing, common and NIST passwords,
// bounded hashing, hashing outside database connections, rate limits and
// client IPs, key rotation, CORS and cross-site refusal, security headers and
// the audit trail. Unit tests of the adapters prove the same points in
// isolation; these prove the service is wired to use them.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read what the service stored
	"github.com/redis/go-redis/v9"
	"github.com/trustelem/zxcvbn/frequency"
	"go.uber.org/fx"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/passwords"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// ---------------------------------------------------------------------------
// Password storage

func TestStoredPasswordHashesAreArgon2idPHCStrings(t *testing.T) {
	c := newApp(t) // ARGON2_MEMORY_KIB 8192, ARGON2_TIME 1, ARGON2_PARALLELISM 1
	db := openDB(t, c)
	s := c.signup("Hashed")
	c.signup("Twin") // the same password

	first := wantArgon2id(t, storedHash(t, db, "Hashed"), goodPassword, 8192, 1, 1)
	twin := wantArgon2id(t, storedHash(t, db, "Twin"), goodPassword, 8192, 1, 1)
	if bytes.Equal(first.salt, twin.salt) || bytes.Equal(first.key, twin.key) {
		t.Error("two users with the same password got the same salt or hash: salts are not random")
	}

	// A changed password is stored the same way.
	c.do(http.MethodPut, base, map[string]any{"username": "Hashed", "password": newPassword, "current_password": goodPassword},
		bearer(s.access)).wantStatus(t, http.StatusOK)
	wantArgon2id(t, storedHash(t, db, "Hashed"), newPassword, 8192, 1, 1)

	// The parameters are configurable; the defaults are OWASP's.
	d := bootstrap.Defaults()
	if d.Argon2MemoryKiB != 19456 || d.Argon2Time != 2 || d.Argon2Threads != 1 {
		t.Errorf("default argon2id m=%d,t=%d,p=%d; want OWASP's m=19456,t=2,p=1", d.Argon2MemoryKiB, d.Argon2Time, d.Argon2Threads)
	}
	owasp := newApp(t, withConfig(func(cfg *bootstrap.Config) {
		cfg.Argon2MemoryKiB, cfg.Argon2Time, cfg.Argon2Threads = d.Argon2MemoryKiB, d.Argon2Time, d.Argon2Threads
	}))
	owasp.signup("Owasp")
	wantArgon2id(t, storedHash(t, openDB(t, owasp), "Owasp"), goodPassword, 19456, 2, 1)
}

func TestImportedBcryptUserLogsInAndIsRehashed(t *testing.T) {
	c := newApp(t)
	db := openDB(t, c)
	const legacyPassword = "0ld!FastAPI-pw"
	legacyHash := bcryptHash(t, legacyPassword, "$2b$") // passlib's prefix
	otherHash := bcryptHash(t, "An0ther!Legacy", "$2a$")
	legacyID := "6f1c2a4e-8b7d-4c3a-9e2f-0a1b2c3d4e5f"

	// The old system's users as JSON lines, imported the way the README's
	// "Admin command" section says: usersvc admin users import FILE.
	file := filepath.Join(t.TempDir(), "legacy.jsonl")
	lines := []map[string]any{
		{"id": legacyID, "username": "Legacy42", "password_hash": legacyHash, "full_name": "Ada Lovelace", "created_at": "2021-03-04T05:06:07Z"},
		{"id": "0b9e2f7c-1d2e-4f5a-8b6c-7d8e9f0a1b2c", "username": "Quiet", "password_hash": otherHash, "full_name": nil, "created_at": "2022-01-01T00:00:00Z"},
		{"id": "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d", "username": "Php", "password_hash": bcryptHash(t, "Php!Legacy-123", "$2y$"), "full_name": "", "created_at": "2023-01-01T00:00:00Z"},
	}
	var body bytes.Buffer
	for _, l := range lines {
		b, _ := json.Marshal(l)
		body.Write(append(b, '\n'))
	}
	if err := os.WriteFile(file, body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	run := admin(t, c, "", "users", "import", file)
	run.want(t, 0)
	if !strings.Contains(run.out, "imported 3, skipped 0, refused 0") {
		t.Fatalf("import report:\n%s", run.out)
	}

	if got := storedHash(t, db, "Legacy42"); got != legacyHash {
		t.Fatal("the import did not store the bcrypt hash as it was")
	}

	// The imported user logs in with the old password over HTTP, and that
	// first login replaced the bcrypt hash with an argon2id one.
	first := c.login("legacy42", legacyPassword)
	upgraded := storedHash(t, db, "Legacy42")
	wantArgon2id(t, upgraded, legacyPassword, 8192, 1, 1)
	if me := c.me(first.access); me.ID != legacyID || me.Username != "Legacy42" || me.FullName == nil ||
		*me.FullName != "Ada Lovelace" || me.CreatedAt != "2021-03-04T05:06:07Z" {
		t.Errorf("imported user reads %v; want id %s, Legacy42, Ada Lovelace, created 2021-03-04T05:06:07Z", me, legacyID)
	}
	// A second login verifies the new hash and has nothing left to upgrade.
	c.me(c.login("LEGACY42", legacyPassword).access)
	if again := storedHash(t, db, "Legacy42"); again != upgraded {
		t.Error("a login with a current argon2id hash rehashed it again")
	}
	// The $2y$ label (PHP's) verifies and is upgraded too.
	c.login("Php", "Php!Legacy-123")
	wantArgon2id(t, storedHash(t, db, "Php"), "Php!Legacy-123", 8192, 1, 1)

	// A wrong password upgrades nothing; a null full_name stays null.
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "Quiet", "password": "Wr0ng!Guess"}).
		wantProblem(t, http.StatusUnauthorized)
	if got := storedHash(t, db, "Quiet"); got != otherHash {
		t.Error("a failed login changed the stored bcrypt hash")
	}
	if u := c.me(c.login("Quiet", "An0ther!Legacy").access); u.FullName != nil {
		t.Errorf("a null legacy full_name was imported as %q; want null", *u.FullName)
	}

	if logs := c.app.logs.String() + run.errOut + run.out; strings.Contains(logs, legacyHash) || strings.Contains(logs, "$2b$") || strings.Contains(logs, "$2a$") ||
		strings.Contains(logs, legacyPassword) {
		t.Error("the service or the import logged a legacy hash or password")
	}
}

func TestPlantedHashesAreRefusedBeforeAnyWork(t *testing.T) {
	c := newApp(t)
	db := openDB(t, c)
	const password = "Pl4nted!Secret"
	// bcrypt cost 17 (above the bound of 16): a cost-4 hash relabelled, since
	// a real one takes seconds to make. Verifying it would take about 2^13
	// times as long as cost 4 (several seconds); refusing it takes nothing.
	cost4 := bcryptHash(t, password, "$2b$")
	cost17 := strings.Replace(cost4, "$04$", "$17$", 1)
	if cost, err := bcrypt.Cost([]byte(cost17)); err != nil || cost != 17 {
		t.Fatalf("forged cost-17 hash reads as cost %d: %v", cost, err)
	}
	planted := map[string]string{
		"CostlyBcrypt": cost17,
		// Genuine argon2id hashes of the password, each with one parameter
		// just outside its bound: only the bound stops the login.
		"CostlyTime":    argon2idPHC(password, 64, 11, 1),        // t > 10
		"CostlyLanes":   argon2idPHC(password, 8*17, 1, 17),      // p > 16
		"CostlyMemory":  argon2idPHC(password, 256*1024+8, 1, 1), // m > 256 MiB
		"HonestAccount": argon2idPHC(password, 8192, 1, 1),       // control: within bounds
	}
	// The admin import refuses every planted hash, naming the bound it
	// breaks, and takes the honest one.
	file := filepath.Join(t.TempDir(), "planted.csv")
	var table bytes.Buffer
	w := csv.NewWriter(&table) // quotes the argon2id hashes: they hold commas
	_ = w.Write([]string{"id", "username", "password_hash", "full_name", "created_at"})
	for name, hash := range planted {
		_ = w.Write([]string{uuidV4(t), name, hash, "", "2024-01-01T00:00:00Z"})
	}
	w.Flush()
	if err := os.WriteFile(file, table.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	run := admin(t, c, "", "users", "import", file)
	run.want(t, 1)
	if !strings.Contains(run.out, "imported 1, skipped 0, refused 4") || strings.Count(run.out, "out of bounds") != 4 {
		t.Fatalf("import of planted hashes:\n%s", run.out)
	}
	// Rows written into the table by hand get past any import: the login
	// must still refuse them before any work.
	for name, hash := range planted {
		if name != "HonestAccount" {
			mustExec(t, db, `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at)
				VALUES ($1, $2, lower($2), $3, now(), now())`, uuidV4(t), name, hash)
		}
	}

	c.login("HonestAccount", password) // the control hash works
	for _, name := range []string{"CostlyBcrypt", "CostlyTime", "CostlyLanes", "CostlyMemory"} {
		start := time.Now()
		r, err := c.send(http.MethodPost, base+"/login", map[string]string{"username": name, "password": password},
			header("X-Request-ID", "planted-"+name))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Status < 300 {
			t.Errorf("%s: login with a hash outside the cost bounds got %d; want it refused", name, r.Status)
		}
		if took > time.Second {
			t.Errorf("%s: refusing the planted hash took %s; want it refused before any hashing work", name, took)
		}
		// The contract's rules hold for this answer too: a problem, never a 500.
		for _, problem := range r.contractViolations() {
			t.Errorf("%s: login → %d: %s\nbody: %s", name, r.Status, problem, r.Body)
		}
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: login → %d; want the 401 of a failed login (the account cannot be verified)", name, r.Status)
		}
	}
	c.do(http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK)
	c.login("HonestAccount", password) // the process still serves logins
	// Operators hear of each refused hash: a warning (or error) in the log
	// line of that request; the client only sees a failed login.
	warned := map[string]bool{}
	for _, line := range c.app.logLines(t) {
		if line["msg"] == "panic" {
			t.Fatalf("the service panicked on a planted hash")
		}
		if id, _ := line["request_id"].(string); strings.HasPrefix(id, "planted-") && (line["level"] == "WARN" || line["level"] == "ERROR") {
			warned[strings.TrimPrefix(id, "planted-")] = true
		}
	}
	for _, name := range []string{"CostlyBcrypt", "CostlyTime", "CostlyLanes", "CostlyMemory"} {
		if !warned[name] {
			t.Errorf("%s: no warning in the log about the refused stored hash", name)
		}
	}
}

func TestWeakerArgon2ParametersAreUpgradedAtLogin(t *testing.T) {
	weak := newApp(t) // t=1, m=8192
	weak.signup("Upgrader")
	db := openDB(t, weak)
	wantArgon2id(t, storedHash(t, db, "Upgrader"), goodPassword, 8192, 1, 1)

	// The same database served with stronger settings: the next login rehashes.
	stronger := newApp(t, sharingDatabaseOf(weak), withConfig(func(cfg *bootstrap.Config) { cfg.Argon2Time = 2 }))
	stronger.login("upgrader", goodPassword)
	wantArgon2id(t, storedHash(t, db, "Upgrader"), goodPassword, 8192, 2, 1)

	// More memory is an upgrade too.
	roomier := newApp(t, sharingDatabaseOf(weak), withConfig(func(cfg *bootstrap.Config) { cfg.Argon2Time, cfg.Argon2MemoryKiB = 2, 16384 }))
	roomier.login("Upgrader", goodPassword)
	strong := storedHash(t, db, "Upgrader")
	wantArgon2id(t, strong, goodPassword, 16384, 2, 1)

	// An instance with weaker settings verifies the stronger hash and never
	// downgrades it.
	weak.login("Upgrader", goodPassword)
	if storedHash(t, db, "Upgrader") != strong {
		t.Error("a login on an instance with weaker parameters replaced a stronger hash")
	}
}

func TestLoginTimingDoesNotRevealUsernames(t *testing.T) {
	// OWASP's memory (one pass, to keep the test short): hashing dominates a
	// login, as in production.
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.Argon2MemoryKiB, cfg.Argon2Time = 19456, 1 }))
	c.signup("Existing")
	timeLogin := func(name string) time.Duration {
		start := time.Now()
		c.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": "Wr0ng!Guess"}).
			wantProblem(t, http.StatusUnauthorized)
		return time.Since(start)
	}
	timeLogin("Existing") // warm up connections and the code paths
	timeLogin("Nobody")

	const rounds = 15
	var unknown, wrong []time.Duration
	for i := range rounds {
		if i%2 == 0 { // interleave, alternating which goes first
			unknown = append(unknown, timeLogin(fmt.Sprintf("Nobody%d", i)))
			wrong = append(wrong, timeLogin("Existing"))
		} else {
			wrong = append(wrong, timeLogin("Existing"))
			unknown = append(unknown, timeLogin(fmt.Sprintf("Nobody%d", i)))
		}
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("median login: unknown username %s, wrong password %s (ratio %.2f)", mu, mw, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Errorf("median login time for an unknown username (%s) and a wrong password (%s) differ by a ratio of %.2f; want within 0.5–2",
			mu, mw, ratio)
	}
}

// ---------------------------------------------------------------------------
// Password policies

func TestCommonPasswordsAreRefused(t *testing.T) {
	// A password that meets every class rule of the contract and is on the list.
	var common string
	for _, p := range []string{"P@ssw0rd", "Pa$$w0rd", "Passw0rd!", "Password1!"} {
		if _, err := user.ContractPolicy(nil).Parse(p); err == nil && passwords.IsCommon(p) {
			common = p
			break
		}
	}
	if common == "" {
		t.Fatal("no candidate is both common and within the contract's rule")
	}

	c := newApp(t)
	wantTooCommon := func(r *response) {
		t.Helper()
		p := r.wantProblem(t, http.StatusUnprocessableEntity)
		for _, e := range p.Errors {
			if e.Field == "password" && strings.Contains(e.Message, "too common") {
				return
			}
		}
		t.Errorf("errors %+v; want one for field password saying it is too common", p.Errors)
	}
	wantTooCommon(c.do(http.MethodPost, base+"/signup", credentials{Username: "Commoner", Password: common}))
	// The list is compared case-insensitively.
	swapped := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 32
		} else if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return r
	}, common)
	wantTooCommon(c.do(http.MethodPost, base+"/signup", credentials{Username: "Commoner", Password: swapped}))
	c.wantNothingWritten("Commoner")

	// A password change to a common password is refused as well.
	s := c.login("Commoner", goodPassword)
	wantTooCommon(c.do(http.MethodPatch, base, map[string]string{"password": common, "current_password": goodPassword}, bearer(s.access)))
	c.login("Commoner", goodPassword)
}

func TestNISTPasswordPolicy(t *testing.T) {
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.PasswordPolicy = "nist" }))
	signup := func(t *testing.T, name, password string) *response {
		t.Helper()
		var opts []reqOpt
		// The OpenAPI document describes the default rule (8 to 25
		// characters); a NIST password outside it is outside the document.
		if n := len([]rune(password)); n < 8 || n > 25 {
			opts = append(opts, malformed())
		}
		return c.with(t).do(http.MethodPost, base+"/signup", credentials{Username: name, Password: password}, opts...)
	}
	logIn := func(t *testing.T, name, password string) *response {
		t.Helper()
		return c.with(t).do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": password})
	}

	t.Run("a passphrase without digits or symbols", func(t *testing.T) {
		signup(t, "Phrase", "violetmeadowlantern").wantTokens(t, http.StatusCreated) // 19 lower-case letters
		c.with(t).login("Phrase", "violetmeadowlantern")
		signup(t, "Longer", "purple elephants dance under quiet moons").wantTokens(t, http.StatusCreated)
	})
	t.Run("15 to 128 characters", func(t *testing.T) {
		p := signup(t, "Short", "quietlanternsx").wantProblem(t, http.StatusUnprocessableEntity) // 14
		if !p.hasField("password") {
			t.Errorf("errors %+v; want one for password", p.Errors)
		}
		signup(t, "Fifteen", "quietlanternsxy").wantTokens(t, http.StatusCreated)
		long := strings.Repeat("lanterns glow ", 10)[:128]
		signup(t, "Longest", long).wantTokens(t, http.StatusCreated)
		signup(t, "TooLong", long+"x").wantProblem(t, http.StatusUnprocessableEntity)
		// Never truncated: the first 127 characters are another password.
		logIn(t, "Longest", long[:127]).wantProblem(t, http.StatusUnauthorized)
		c.with(t).login("Longest", long)
	})
	t.Run("NFKC", func(t *testing.T) {
		signup(t, "Ligature", "the \ufb01rst snowfall of winter").wantTokens(t, http.StatusCreated) // "ﬁ", one character
		c.with(t).login("Ligature", "the first snowfall of winter")
		c.with(t).login("Ligature", "the \ufb01rst snowfall of winter")
	})
	t.Run("never trimmed", func(t *testing.T) {
		const spaced = "  lantern by the harbour  "
		signup(t, "Spacey", spaced).wantTokens(t, http.StatusCreated)
		logIn(t, "Spacey", strings.TrimSpace(spaced)).wantProblem(t, http.StatusUnauthorized)
		logIn(t, "Spacey", " "+strings.TrimSpace(spaced)+" ").wantProblem(t, http.StatusUnauthorized)
		c.with(t).login("Spacey", spaced)
	})
	t.Run("common passphrases", func(t *testing.T) {
		// The first password of 15 to 25 characters on the list the service uses.
		var common string
		for _, p := range frequency.FrequencyLists["passwords"] {
			if n := len([]rune(p)); n >= 15 && n <= 25 && passwords.IsCommon(p) {
				common = p
				break
			}
		}
		if common == "" {
			t.Fatal("the common-password list has no password of 15 to 25 characters")
		}
		p := signup(t, "Phrase2", common).wantProblem(t, http.StatusUnprocessableEntity)
		if !p.hasField("password") {
			t.Errorf("errors %+v; want one for password", p.Errors)
		}
	})
}

// ---------------------------------------------------------------------------
// Bounded hashing

func TestHashingFloodIsBoundedAndOtherRoutesKeepAnswering(t *testing.T) {
	const maxHashes = 1
	probe := &hasherProbe{}
	c := newApp(t, probe.option(), withConfig(func(cfg *bootstrap.Config) {
		cfg.HashMaxConcurrent = maxHashes
		cfg.HashQueueWait = 200 * time.Millisecond
		cfg.Argon2MemoryKiB, cfg.Argon2Time = 19456, 2 // OWASP: about 19 MiB and tens of ms per hash
	}))
	s := c.signup("Flooded")
	c.signup("Reader")
	reader := c.login("Reader", goodPassword)
	probe.reset()

	// Sample, while the flood runs, how many goroutines are inside argon2id
	// or bcrypt right now (from their stacks, independently of the hasher's
	// own semaphore), and the heap.
	var baseline runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&baseline)
	done := make(chan struct{})
	var sampler sync.WaitGroup
	var peakHashing, samples int
	var peakHeap uint64
	sampler.Go(func() {
		buf := make([]byte, 8<<20)
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			peakHashing = max(peakHashing, hashingGoroutines(buf))
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapAlloc)
			samples++
		}
	})

	// GET /me keeps answering while the flood runs.
	var meStatuses []int
	var meSlowest time.Duration
	var reading sync.WaitGroup
	reading.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			r, err := c.send(http.MethodGet, base+"/me", nil, bearer(reader.access))
			meSlowest = max(meSlowest, time.Since(start))
			if err != nil {
				meStatuses = append(meStatuses, -1)
				continue
			}
			meStatuses = append(meStatuses, r.Status)
			time.Sleep(10 * time.Millisecond)
		}
	})

	const flood = 40
	results := make([]*response, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			r, err := c.send(http.MethodPost, base+"/login", map[string]string{"username": "Flooded", "password": goodPassword})
			if err != nil {
				t.Errorf("flood login: %v", err)
				return
			}
			results[i] = r
		})
	}
	wg.Wait()
	close(done)
	sampler.Wait()
	reading.Wait()

	counts := map[int]int{}
	for _, r := range results {
		if r == nil {
			continue
		}
		counts[r.Status]++
		for _, problem := range r.contractViolations() {
			t.Errorf("flood login → %d: %s", r.Status, problem)
		}
		if r.Status == http.StatusServiceUnavailable {
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
				t.Errorf("503 with Retry-After %q; want whole seconds ≥ 1", r.Header.Get("Retry-After"))
			}
		}
	}
	t.Logf("flood of %d logins: %v; peak calls into the hasher %d, peak goroutines hashing %d (%d samples), heap +%d MiB; /me: %d answers, slowest %s",
		flood, counts, probe.peakCalls.Load(), peakHashing, samples, (peakHeap-min(peakHeap, baseline.HeapAlloc))>>20, len(meStatuses), meSlowest)
	if counts[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no login of the flood got 503: the hashing queue never filled (%v)", counts)
	}
	if counts[http.StatusOK] == 0 {
		t.Errorf("no login of the flood succeeded (%v)", counts)
	}
	if counts[http.StatusOK]+counts[http.StatusServiceUnavailable] != flood {
		t.Errorf("flood answers %v; want only 200 and 503", counts)
	}
	if probe.peakCalls.Load() <= maxHashes {
		t.Errorf("at most %d logins were in the hasher at once: the flood did not contend", probe.peakCalls.Load())
	}
	if peakHashing > maxHashes {
		t.Errorf("%d password hashes ran at once; HASH_MAX_CONCURRENT is %d", peakHashing, maxHashes)
	}
	if peakHashing == 0 {
		t.Errorf("the sampler never saw a hash running (%d samples): it measures nothing", samples)
	}
	// Hashing memory: a few hashes' worth, never one per request.
	perHash := uint64(19456) << 10
	if grown := peakHeap - min(peakHeap, baseline.HeapAlloc); grown > 10*perHash {
		t.Errorf("the heap grew by %d MiB during the flood; want at most a few hashes' worth (%d MiB each)", grown>>20, perHash>>20)
	}
	if len(meStatuses) < 3 {
		t.Errorf("GET /me answered only %d times during the flood", len(meStatuses))
	}
	for _, st := range meStatuses {
		if st != http.StatusOK {
			t.Errorf("GET /me during the flood: %v; want every answer 200", meStatuses)
			break
		}
	}

	// The refused waits are counted in the metrics.
	if n := c.scrape().value("password_hash_queue_wait_seconds", "acquired", "false"); n < float64(counts[http.StatusServiceUnavailable]) {
		t.Errorf("password_hash_queue_wait_seconds_count{acquired=\"false\"} = %v; want at least the %d refused logins", n, counts[http.StatusServiceUnavailable])
	}
	// After the flood the service is whole.
	c.me(s.access)
	c.login("Flooded", goodPassword)
}

func TestNoPasswordIsHashedWhileADatabaseConnectionIsHeld(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, db option) {
		probe := &hasherProbe{}
		// The probe counts the pool's connections in use; the event relay's
		// claims, woken by each commit, are not a request's, so it idles.
		c := newApp(t, db, probe.option(), withRelayIdle())
		probe.reset()

		s := c.signup("Careful")                                                                      // Hash
		c.login("careful", goodPassword)                                                              // Matches
		c.do(http.MethodPost, base+"/login", map[string]string{"username": "Ghost", "password": "x"}) // Matches (decoy)
		c.do(http.MethodPut, base, map[string]any{"username": "Careful", "password": newPassword, "current_password": goodPassword},
			bearer(s.access)).wantStatus(t, http.StatusOK) // Matches + Hash
		c.do(http.MethodPatch, base, map[string]any{"password": goodPassword, "current_password": newPassword},
			bearer(s.access)).wantStatus(t, http.StatusOK) // Matches + Hash
		// A login that upgrades a bcrypt hash: Matches + Hash.
		if err := probe.gorm.Exec("UPDATE users SET password_hash = ? WHERE username_key = ?", bcryptHash(t, goodPassword, "$2b$"), "careful").Error; err != nil {
			t.Fatal(err)
		}
		c.login("Careful", goodPassword)

		calls := probe.inUseAtCalls()
		if len(calls) < 9 {
			t.Fatalf("the hasher was called %d times; want at least 9 (is the probe wired in?)", len(calls))
		}
		for i, n := range calls {
			if n != 0 {
				t.Errorf("hasher call %d of %d ran while %d database connection(s) were in use: %v", i+1, len(calls), n, calls)
				break
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Rate limits

func TestRateLimitsPerClientIP(t *testing.T) {
	loginLimited := func(events int, more ...func(*bootstrap.Config)) option {
		return withConfig(func(cfg *bootstrap.Config) {
			cfg.RateLimits = true
			cfg.LimitSignUpPerIP, cfg.LimitRefreshPerIP, cfg.LimitFailedLogIns = ports.Limit{}, ports.Limit{}, ports.Limit{}
			cfg.LimitLogInPerIP = ports.Limit{Events: events, Window: time.Hour}
			for _, f := range more {
				f(cfg)
			}
		})
	}
	logIn := func(c *client, opts ...reqOpt) *response {
		return c.do(http.MethodPost, base+"/login", map[string]string{"username": "Limited", "password": goodPassword}, opts...)
	}

	t.Run("logins per client IP", func(t *testing.T) {
		c := newApp(t, loginLimited(3))
		c.signup("Limited")
		for range 3 {
			logIn(c).wantTokens(t, http.StatusOK)
		}
		r := logIn(c)
		want429(t, r)
		if n, _ := strconv.Atoi(r.Header.Get("Retry-After")); n > 3600 {
			t.Errorf("Retry-After %d exceeds the window of an hour", n)
		}
		c.signup("Another") // signups have their own budget
	})
	t.Run("X-Forwarded-For from a trusted proxy", func(t *testing.T) {
		c := newApp(t, loginLimited(2, func(cfg *bootstrap.Config) { cfg.TrustedProxies = []string{"127.0.0.1"} }))
		c.signup("Limited")
		first := header("X-Forwarded-For", "203.0.113.7")
		logIn(c, first).wantTokens(t, http.StatusOK)
		logIn(c, first).wantTokens(t, http.StatusOK)
		want429(t, logIn(c, first, header("X-Request-ID", "xff-limited")))
		// Another client behind the same proxy has a budget of its own.
		logIn(c, header("X-Forwarded-For", "203.0.113.8")).wantTokens(t, http.StatusOK)
		logIn(c, header("X-Forwarded-For", "198.51.100.1, 203.0.113.9")).wantTokens(t, http.StatusOK)
		if ev := auditEvents(t, c, "rate_limited"); len(ev) != 1 || ev[0]["client_ip"] != "203.0.113.7" || ev[0]["request_id"] != "xff-limited" {
			t.Errorf("rate_limited audit events %v; want one with client_ip 203.0.113.7", ev)
		}
	})
	t.Run("X-Forwarded-For from anyone else is ignored", func(t *testing.T) {
		c := newApp(t, loginLimited(2)) // TRUSTED_PROXIES empty
		c.signup("Limited")
		for i := range 2 {
			logIn(c, header("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))).wantTokens(t, http.StatusOK)
		}
		want429(t, logIn(c, header("X-Forwarded-For", "198.51.100.99"), header("X-Real-IP", "198.51.100.98")))
		for _, line := range c.app.logLines(t) {
			if ip, ok := line["client_ip"]; ok && ip != "127.0.0.1" {
				t.Errorf("a spoofed header set client_ip %v in the log", ip)
				break
			}
		}
	})
	t.Run("a limit of 0 is off", func(t *testing.T) {
		env := map[string]string{"RATE_LIMIT_LOGIN_PER_IP": "0", "RATE_LIMIT_FAILED_LOGINS": "0", "RATE_LIMIT_SIGNUP_PER_IP": "1/1h"}
		loaded := loadConfig(t, env)
		c := newApp(t, withConfig(func(cfg *bootstrap.Config) {
			cfg.RateLimits = loaded.RateLimits
			cfg.LimitLogInPerIP, cfg.LimitFailedLogIns, cfg.LimitSignUpPerIP = loaded.LimitLogInPerIP, loaded.LimitFailedLogIns, loaded.LimitSignUpPerIP
		}))
		c.signup("Limited")
		for range 15 {
			c.do(http.MethodPost, base+"/login", map[string]string{"username": "Limited", "password": "Wr0ng!Guess"}).
				wantProblem(t, http.StatusUnauthorized)
		}
		logIn(c).wantTokens(t, http.StatusOK)
		// The other limits are on: the second signup is refused.
		want429(t, c.do(http.MethodPost, base+"/signup", credentials{Username: "Second", Password: goodPassword}))
	})
	t.Run("RATE_LIMITS=off", func(t *testing.T) {
		env := map[string]string{"RATE_LIMITS": "off", "RATE_LIMIT_LOGIN_PER_IP": "1/1h", "RATE_LIMIT_FAILED_LOGINS": "1/1h",
			"RATE_LIMIT_SIGNUP_PER_IP": "1/1h", "RATE_LIMIT_REFRESH_PER_IP": "1/1h"}
		loaded := loadConfig(t, env)
		c := newApp(t, withConfig(func(cfg *bootstrap.Config) {
			cfg.RateLimits = loaded.RateLimits
			cfg.LimitLogInPerIP, cfg.LimitFailedLogIns = loaded.LimitLogInPerIP, loaded.LimitFailedLogIns
			cfg.LimitSignUpPerIP, cfg.LimitRefreshPerIP = loaded.LimitSignUpPerIP, loaded.LimitRefreshPerIP
		}))
		s := c.signup("Limited")
		c.signup("Second")
		for range 5 {
			c.do(http.MethodPost, base+"/login", map[string]string{"username": "Limited", "password": "Wr0ng!Guess"}).
				wantProblem(t, http.StatusUnauthorized)
		}
		for range 3 {
			logIn(c).wantTokens(t, http.StatusOK)
			s = c.refresh(s.refresh).wantTokens(t, http.StatusOK)
		}
		if n := len(auditEvents(t, c, "rate_limited")); n != 0 {
			t.Errorf("%d rate_limited events with RATE_LIMITS=off", n)
		}
	})
}

func TestRedisRateLimitStoreIsSharedByInstances(t *testing.T) {
	rdb := redisForTest(t)
	name := "Shared" + hex.EncodeToString(randomBytes(t, 6)) // unique: Redis outlives the test
	key := "usersvc:rl:login-user:" + strings.ToLower(name)
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	redisStore := withConfig(func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.RateLimitStore = "redis"
		cfg.RedisURL = redisURL()
		// Per-IP budgets would be shared with every other run on this Redis.
		cfg.LimitSignUpPerIP, cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP = ports.Limit{}, ports.Limit{}, ports.Limit{}
		cfg.LimitFailedLogIns = ports.Limit{Events: 3, Window: time.Hour}
	})
	a := newApp(t, redisStore)
	b := newApp(t, redisStore, sharingDatabaseOf(a))
	a.signup(name)

	fail := func(c *client) {
		t.Helper()
		c.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": "Wr0ng!Guess"}).
			wantProblem(t, http.StatusUnauthorized)
	}
	fail(a)
	fail(a)
	fail(b) // the third failure, on the other instance
	if n, err := rdb.Exists(context.Background(), key).Result(); err != nil || n != 1 {
		t.Errorf("key %s in Redis: %d, %v; want the failed-login budget kept there", key, n, err)
	}
	// The budget is spent on both instances, even for the right password.
	want429(t, b.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": goodPassword}))
	want429(t, a.do(http.MethodPost, base+"/login", map[string]string{"username": strings.ToUpper(name), "password": goodPassword}))
}

// ---------------------------------------------------------------------------
// Key rotation

func TestSigningKeyRotationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	oldPath, oldKey := writeSigningKey(t, dir, "old.pem")
	newPath, newKey := writeSigningKey(t, dir, "new.pem")
	oldKid, newKid := thumbprint(oldKey), thumbprint(newKey)
	keys := func(paths ...string) option {
		return withConfig(func(cfg *bootstrap.Config) { cfg.SigningKeyFiles = paths })
	}

	a := newApp(t, keys(oldPath))
	before := a.signup("Rotator")
	spare := a.login("Rotator", goodPassword) // its refresh cookie is kept unused
	if kid := tokenKid(t, before.access); kid != oldKid {
		t.Fatalf("token kid %q; want the old key's %q", kid, oldKid)
	}
	wantJWKS(t, a, oldKid)

	// Rotation: the new key is appended; it signs, both verify.
	b := newApp(t, sharingDatabaseOf(a), keys(oldPath, newPath))
	b.me(before.access)
	after := b.login("Rotator", goodPassword)
	if kid := tokenKid(t, after.access); kid != newKid {
		t.Errorf("new access token kid %q; want the new key's %q", kid, newKid)
	}
	if kid := tokenKid(t, after.refresh); kid != newKid {
		t.Errorf("new refresh token kid %q; want the new key's %q", kid, newKid)
	}
	wantJWKS(t, b, oldKid, newKid)
	rotated := b.refresh(before.refresh).wantTokens(t, http.StatusOK) // an old refresh cookie still works
	if kid := tokenKid(t, rotated.refresh); kid != newKid {
		t.Errorf("refreshed cookie kid %q; want the new key's %q", kid, newKid)
	}

	// Retirement: the old key is removed; what it signed is refused.
	c := newApp(t, sharingDatabaseOf(a), keys(newPath))
	c.wantAccessRefused(before.access)
	c.wantRefreshRefused(spare.refresh)
	c.me(after.access)
	c.refresh(rotated.refresh).wantTokens(t, http.StatusOK)
	wantJWKS(t, c, newKid)
}

// ---------------------------------------------------------------------------
// Browser-facing defaults

func TestCORSAndCrossSiteRefusal(t *testing.T) {
	const allowed = "https://app.example.com"
	const evil = "https://evil.example"
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.CORSOrigins = []string{allowed} }))
	s := c.signup("Browser")

	preflight := func(c *client, origin, method, path string) *response {
		return c.do(http.MethodOptions, path, nil, header("Origin", origin), header("Access-Control-Request-Method", method),
			header("Access-Control-Request-Headers", "authorization, content-type"))
	}
	t.Run("preflight from a listed origin", func(t *testing.T) {
		c := c.with(t)
		for _, p := range []struct{ method, path string }{{"POST", base + "/refresh"}, {"GET", base + "/me"}, {"PATCH", base}} {
			r := preflight(c, allowed, p.method, p.path)
			r.wantStatus(t, http.StatusNoContent)
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != allowed {
				t.Errorf("%s %s: Access-Control-Allow-Origin %q; want %q", p.method, p.path, got, allowed)
			}
			if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("%s %s: Access-Control-Allow-Credentials %q; want true", p.method, p.path, got)
			}
			if m := r.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, p.method) {
				t.Errorf("Access-Control-Allow-Methods %q lacks %s", m, p.method)
			}
			if h := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") || !strings.Contains(h, "content-type") {
				t.Errorf("Access-Control-Allow-Headers %q; want Authorization and Content-Type", h)
			}
			if !slices.Contains(r.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary %q; want Origin", r.Header.Values("Vary"))
			}
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		c := c.with(t)
		for _, origin := range []string{evil, "null", "https://app.example.com.evil.example", "http://app.example.com"} {
			r := preflight(c, origin, "POST", base+"/refresh")
			r.wantProblem(t, http.StatusForbidden)
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q on a refused preflight", origin, got)
			}
		}
	})
	t.Run("actual requests", func(t *testing.T) {
		c := c.with(t)
		r := c.do(http.MethodGet, base+"/me", nil, bearer(s.access), header("Origin", allowed))
		r.wantStatus(t, http.StatusOK)
		if r.Header.Get("Access-Control-Allow-Origin") != allowed || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("listed origin: ACAO %q, ACAC %q", r.Header.Get("Access-Control-Allow-Origin"), r.Header.Get("Access-Control-Allow-Credentials"))
		}
		for _, opts := range [][]reqOpt{{header("Origin", evil)}, nil} {
			r := c.do(http.MethodGet, base+"/me", nil, append(opts, bearer(s.access))...)
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin %q for an unlisted or absent origin", got)
			}
		}
	})
	t.Run("cookie routes refuse foreign origins", func(t *testing.T) {
		c := c.with(t)
		for _, origin := range []string{evil, "null", "https://app.example.com.evil.example"} {
			r := c.do(http.MethodPost, base+"/refresh", nil, withCookie(s.refresh), header("Origin", origin))
			r.wantProblem(t, http.StatusForbidden)
			if r.refreshCookie() != nil {
				t.Errorf("%s: a refused refresh touched the cookie", origin)
			}
			c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh), header("Origin", origin)).
				wantProblem(t, http.StatusForbidden)
		}
		// The session is untouched: its cookie still refreshes, from the
		// listed origin and then from the service's own.
		next := c.do(http.MethodPost, base+"/refresh", nil, withCookie(s.refresh), header("Origin", allowed)).wantTokens(t, http.StatusOK)
		next = c.do(http.MethodPost, base+"/refresh", nil, withCookie(next.refresh), header("Origin", c.app.url)).wantTokens(t, http.StatusOK)
		c.me(next.access)
		c.do(http.MethodPost, base+"/logout", nil, withCookie(next.refresh), header("Origin", c.app.url)).wantStatus(t, http.StatusNoContent)
		if n := len(auditEvents(t, c, "cross_site_refused")); n != 6 {
			t.Errorf("%d cross_site_refused audit events; want 6", n)
		}
	})
	t.Run("never a wildcard", func(t *testing.T) {
		c := c.with(t)
		r := c.do(http.MethodGet, "/healthz", nil, header("Origin", allowed))
		if got := r.Header.Get("Access-Control-Allow-Origin"); got == "*" || got != allowed {
			t.Errorf("Access-Control-Allow-Origin %q; want the listed origin, never *", got)
		}
	})
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	c := newApp(t)
	signup := c.do(http.MethodPost, base+"/signup", credentials{Username: "Headers", Password: goodPassword})
	s := signup.wantTokens(t, http.StatusCreated)
	login := c.do(http.MethodPost, base+"/login", map[string]string{"username": "Headers", "password": goodPassword})
	login.wantTokens(t, http.StatusOK)
	refresh := c.refresh(s.refresh)
	refresh.wantTokens(t, http.StatusOK)

	cases := []struct {
		name   string
		r      *response
		status int
	}{
		{"signup (token)", signup, http.StatusCreated},
		{"login (token)", login, http.StatusOK},
		{"refresh (token)", refresh, http.StatusOK},
		{"200 JSON", c.do(http.MethodGet, base+"/me", nil, bearer(s.access)), http.StatusOK},
		{"401 problem", c.do(http.MethodGet, base+"/me", nil), http.StatusUnauthorized},
		{"422 problem", c.do(http.MethodPost, base+"/signup", credentials{Username: "x!", Password: goodPassword}, malformed()), http.StatusUnprocessableEntity},
		{"404 unknown route", c.do(http.MethodGet, "/nowhere", nil, malformed()), http.StatusNotFound},
		{"405", c.do(http.MethodDelete, "/healthz", nil, malformed()), http.StatusMethodNotAllowed},
		{"/healthz", c.do(http.MethodGet, "/healthz", nil), http.StatusOK},
		{"/readyz", c.do(http.MethodGet, "/readyz", nil), http.StatusOK},
		{"/openapi.json", c.do(http.MethodGet, "/openapi.json", nil), http.StatusOK},
		{"/.well-known/jwks.json", c.do(http.MethodGet, "/.well-known/jwks.json", nil), http.StatusOK},
		{"/metrics", c.do(http.MethodGet, "/metrics", nil), http.StatusOK},
		{"/docs", c.do(http.MethodGet, "/docs", nil), http.StatusOK},
		{"204 logout", c.do(http.MethodPost, base+"/logout", nil, withCookie(login.refreshCookie().Value)), http.StatusNoContent},
	}
	for _, tc := range cases {
		r := tc.r
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.Status, tc.status)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", tc.name, name, got, want)
			}
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q; want default-src 'none' and frame-ancestors 'none'", tc.name, csp)
		}
		if tc.name == "/docs" {
			if csp != httpapi.DocsCSP || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
				t.Errorf("/docs: Content-Security-Policy %q; want the docs page's own policy, without inline scripts", csp)
			}
		} else if csp != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("%s: Content-Security-Policy %q; want the API's default-src 'none'", tc.name, csp)
		}
		if strings.HasSuffix(tc.name, "(token)") || tc.status >= 400 {
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("%s: Cache-Control %q; want no-store", tc.name, cc)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Audit trail

func TestAuditTrailOfAFullRunHoldsOneEventPerActAndNoSecret(t *testing.T) {
	const grace = time.Second
	const wrongPassword = "Wr0ng!Guess-77"
	c := newApp(t, withGrace(grace), withConfig(func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.LimitSignUpPerIP = ports.Limit{Events: 1, Window: time.Hour}
		cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP, cfg.LimitFailedLogIns = ports.Limit{}, ports.Limit{}, ports.Limit{}
	}))
	db := openDB(t, c)
	rid := func(step string) reqOpt { return header("X-Request-ID", "audit-"+step) }
	sid := func(access string) string {
		_, claims := jwtParts(t, access)
		return claims["sid"].(string)
	}

	s0 := c.do(http.MethodPost, base+"/signup", credentials{Username: "Auditor", Password: goodPassword}, rid("signup")).
		wantTokens(t, http.StatusCreated)
	uid := c.me(s0.access).ID
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "Auditor", "password": wrongPassword}, rid("login-failure")).
		wantProblem(t, http.StatusUnauthorized)
	s1 := c.do(http.MethodPost, base+"/login", map[string]string{"username": "auditor", "password": goodPassword}, rid("login-1")).
		wantTokens(t, http.StatusOK)
	s1b := c.do(http.MethodPost, base+"/refresh", nil, withCookie(s1.refresh), rid("refresh")).wantTokens(t, http.StatusOK)
	time.Sleep(grace + 300*time.Millisecond)
	c.do(http.MethodPost, base+"/refresh", nil, withCookie(s1.refresh), rid("reuse")).wantProblem(t, http.StatusUnauthorized)
	c.wantAccessRefused(s1b.access) // the reuse revoked the session
	c.do(http.MethodPatch, base, map[string]string{"password": newPassword, "current_password": goodPassword}, bearer(s0.access), rid("password")).
		wantStatus(t, http.StatusOK)
	storedHashes := []string{storedHash(t, db, "Auditor")}
	s2 := c.do(http.MethodPost, base+"/login", map[string]string{"username": "Auditor", "password": newPassword}, rid("login-2")).
		wantTokens(t, http.StatusOK)
	c.do(http.MethodPost, base+"/logout", nil, withCookie(s2.refresh), rid("logout")).wantStatus(t, http.StatusNoContent)
	c.do(http.MethodDelete, base, nil, bearer(s0.access), rid("delete")).wantStatus(t, http.StatusNoContent)
	want429(t, c.do(http.MethodPost, base+"/signup", credentials{Username: "Second", Password: goodPassword}, rid("limited")))

	type want struct {
		event, outcome, requestID string
		userID, sessionID         string // "" where not known
	}
	wants := []want{
		{"signup", "success", "audit-signup", uid, sid(s0.access)},
		{"login", "failure", "audit-login-failure", "", ""},
		{"login", "success", "audit-login-1", uid, sid(s1.access)},
		{"refresh", "success", "audit-refresh", uid, sid(s1.access)},
		{"refresh_reuse_detected", "session_revoked", "audit-reuse", uid, sid(s1.access)},
		{"password_changed", "success", "audit-password", uid, sid(s0.access)},
		{"login", "success", "audit-login-2", uid, sid(s2.access)},
		{"logout", "success", "audit-logout", uid, sid(s2.access)},
		{"account_deleted", "success", "audit-delete", uid, sid(s0.access)},
		{"rate_limited", "refused", "audit-limited", "", ""},
	}
	events := auditEvents(t, c, "")
	if len(events) != len(wants) {
		var got []string
		for _, e := range events {
			got = append(got, fmt.Sprintf("%v/%v", e["event"], e["outcome"]))
		}
		t.Errorf("%d audit events %v; want exactly %d, one per act", len(events), got, len(wants))
	}
	for _, w := range wants {
		var found []map[string]any
		for _, e := range events {
			if e["request_id"] == w.requestID {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d audit events with request_id %s; want exactly one", w.event, len(found), w.requestID)
			continue
		}
		e := found[0]
		if e["event"] != w.event || e["outcome"] != w.outcome {
			t.Errorf("%s: event %v, outcome %v; want %s, %s", w.requestID, e["event"], e["outcome"], w.event, w.outcome)
		}
		if e["client_ip"] != "127.0.0.1" {
			t.Errorf("%s: client_ip %v; want 127.0.0.1", w.event, e["client_ip"])
		}
		if w.userID != "" && e["user_id"] != w.userID {
			t.Errorf("%s/%s: user_id %v; want %s", w.event, w.outcome, e["user_id"], w.userID)
		}
		if w.sessionID != "" && e["session_id"] != w.sessionID {
			t.Errorf("%s/%s: session_id %v; want %s", w.event, w.outcome, e["session_id"], w.sessionID)
		}
	}

	// No password, token, hash or key material anywhere in the log.
	logs := c.app.logs.String()
	secrets := map[string]string{
		"password":       goodPassword,
		"new password":   newPassword,
		"wrong password": wrongPassword,
		"argon2id hash":  "$argon2id$",
		"bcrypt hash":    "$2a$",
		"bcrypt hash b":  "$2b$",
		"bcrypt hash y":  "$2y$",
		"stored hash":    storedHashes[0],
	}
	// Random material (token signatures, the key's seed) must not appear
	// even in part: any 16 characters of it are 96 bits no log holds by chance.
	fragments := map[string]string{}
	c.app.mu.Lock()
	for i, tok := range c.app.secrets {
		secrets[fmt.Sprintf("token %d", i)] = tok
		parts := strings.Split(tok, ".")
		secrets[fmt.Sprintf("token %d payload", i)] = parts[1]
		fragments[fmt.Sprintf("token %d signature", i)] = parts[2]
	}
	c.app.mu.Unlock()
	material, seedForms := keyMaterial(t, filepath.Join(c.app.dataDir, tokens.DevKeyFile))
	for name, v := range material {
		secrets[name] = v
	}
	for name, v := range seedForms {
		fragments[name] = v
	}
	for name, secret := range secrets {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s (%.12s…)", name, secret)
		}
	}
	for name, secret := range fragments {
		for i := 0; i+16 <= len(secret); i++ {
			if strings.Contains(logs, secret[i:i+16]) {
				t.Errorf("the log contains part of the %s", name)
				break
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Helpers

// want429 fails unless r is a 429 problem with Retry-After in whole seconds.
func want429(t testing.TB, r *response) {
	t.Helper()
	r.wantProblem(t, http.StatusTooManyRequests)
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q; want a whole number of seconds ≥ 1", r.Header.Get("Retry-After"))
	}
}

// openDB opens the PostgreSQL database of c's app with database/sql, to read
// and plant what the service stores.
func openDB(t testing.TB, c *client) *sql.DB {
	t.Helper()
	if c.app.dbURL == "" {
		t.Fatal("openDB needs an app on PostgreSQL")
	}
	db, err := sql.Open("pgx", c.app.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// storedHash reads a user's password_hash column.
func storedHash(t testing.TB, db *sql.DB, username string) string {
	t.Helper()
	var h string
	if err := db.QueryRow("SELECT password_hash FROM users WHERE username_key = lower($1)", username).Scan(&h); err != nil {
		t.Fatalf("password_hash of %s: %v", username, err)
	}
	return h
}

// phc matches an argon2id PHC string with unpadded standard base64 salt and key.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

type parsedPHC struct {
	m, t, p   uint32
	salt, key []byte
}

// wantArgon2id fails unless stored is an argon2id PHC string with the given
// parameters, a 16-byte salt and a 32-byte key, and is the hash of password.
func wantArgon2id(t testing.TB, stored, password string, m, time, p uint32) parsedPHC {
	t.Helper()
	g := phc.FindStringSubmatch(stored)
	if g == nil {
		t.Fatalf("stored hash %.20s… is not an argon2id PHC string $argon2id$v=19$m=..,t=..,p=..$salt$key", stored)
	}
	var h parsedPHC
	for i, dst := range []*uint32{&h.m, &h.t, &h.p} {
		n, _ := strconv.ParseUint(g[i+1], 10, 32)
		*dst = uint32(n)
	}
	var err1, err2 error
	h.salt, err1 = base64.RawStdEncoding.DecodeString(g[4])
	h.key, err2 = base64.RawStdEncoding.DecodeString(g[5])
	if err1 != nil || err2 != nil {
		t.Fatalf("salt or key is not unpadded base64: %v %v", err1, err2)
	}
	if h.m != m || h.t != time || h.p != p {
		t.Errorf("stored argon2id m=%d,t=%d,p=%d; want m=%d,t=%d,p=%d", h.m, h.t, h.p, m, time, p)
	}
	if len(h.salt) != 16 || len(h.key) != 32 {
		t.Errorf("salt %d bytes, key %d bytes; want 16 and 32", len(h.salt), len(h.key))
	}
	got := argon2.IDKey([]byte(password), h.salt, h.t, h.m, uint8(h.p), uint32(len(h.key)))
	if subtle.ConstantTimeCompare(got, h.key) != 1 {
		t.Errorf("the stored hash is not the argon2id of the password")
	}
	return h
}

// argon2idPHC makes a genuine argon2id PHC string of password.
func argon2idPHC(password string, m, time uint32, p uint8) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, time, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, time, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// bcryptHash makes a cost-4 bcrypt hash of password with the given prefix
// ($2a$, $2b$ or $2y$: the same algorithm, as other libraries label it).
func bcryptHash(t testing.TB, password, prefix string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), 4)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + strings.TrimPrefix(string(h), "$2a$")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// hasherProbe wraps the service's userports.PasswordHasher (through fx.Decorate):
// it records how many calls are inside the hasher at once (waiting for a
// slot or hashing) and how many database connections are in use at each call.
type hasherProbe struct {
	inner userports.PasswordHasher
	gorm  *gorm.DB
	sqlDB *sql.DB

	current, peakCalls atomic.Int64
	mu                 sync.Mutex
	inUse              []int
}

func (p *hasherProbe) option() option {
	return withFx(fx.Decorate(func(h userports.PasswordHasher, db *gorm.DB) (userports.PasswordHasher, error) {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		p.inner, p.gorm, p.sqlDB = h, db, sqlDB
		return p, nil
	}))
}

// reset forgets the calls so far (the decoy hash made at start).
func (p *hasherProbe) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse = nil
	p.peakCalls.Store(0)
}

func (p *hasherProbe) enter() func() {
	p.mu.Lock()
	p.inUse = append(p.inUse, p.sqlDB.Stats().InUse)
	p.mu.Unlock()
	n := p.current.Add(1)
	for {
		peak := p.peakCalls.Load()
		if n <= peak || p.peakCalls.CompareAndSwap(peak, n) {
			break
		}
	}
	return func() { p.current.Add(-1) }
}

func (p *hasherProbe) inUseAtCalls() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.inUse)
}

func (p *hasherProbe) Hash(ctx context.Context, pw user.Password) (user.PasswordHash, error) {
	defer p.enter()()
	return p.inner.Hash(ctx, pw)
}

func (p *hasherProbe) Matches(ctx context.Context, h user.PasswordHash, pw user.Password) (bool, bool, error) {
	defer p.enter()()
	return p.inner.Matches(ctx, h, pw)
}

// hashingGoroutines counts the goroutines whose stack is inside an argon2id
// key derivation or a bcrypt comparison right now. argon2 runs its lanes in
// goroutines of its own; only the caller's stack holds deriveKey or IDKey.
func hashingGoroutines(buf []byte) int {
	stacks := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "golang.org/x/crypto/argon2.deriveKey(") || strings.Contains(g, "golang.org/x/crypto/argon2.IDKey(") ||
			strings.Contains(g, "golang.org/x/crypto/bcrypt.CompareHashAndPassword(") {
			n++
		}
	}
	return n
}

// auditEvents returns the service's audit log records, of one event or ("")
// all of them.
func auditEvents(t testing.TB, c *client, event string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range c.app.logLines(t) {
		if line["msg"] == "audit" && (event == "" || line["event"] == event) {
			out = append(out, line)
		}
	}
	return out
}

// loadConfig reads the configuration from env alone, as the process would.
func loadConfig(t testing.TB, env map[string]string) bootstrap.Config {
	t.Helper()
	cfg, err := bootstrap.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func redisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisForTest connects to TEST_REDIS_URL; without Redis the test is skipped,
// or fails when CI=true.
func redisForTest(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal("TEST_REDIS_URL does not parse")
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at TEST_REDIS_URL is required in CI: %v", err)
		}
		t.Skipf("Redis at TEST_REDIS_URL not reachable: %v", err)
	}
	return rdb
}

// uuidV4 returns a random version 4 UUID in canonical form.
func uuidV4(t testing.TB) string {
	b := randomBytes(t, 16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// writeSigningKey writes a new Ed25519 key as PKCS#8 PEM, as
// `openssl genpkey -algorithm ed25519` does.
func writeSigningKey(t testing.TB, dir, name string) (string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, priv
}

// thumbprint is the RFC 7638 JWK thumbprint of the key's public half.
func thumbprint(priv ed25519.PrivateKey) string {
	x := base64.RawURLEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func tokenKid(t testing.TB, tok string) string {
	t.Helper()
	h, _ := jwtParts(t, tok)
	kid, _ := h["kid"].(string)
	return kid
}

// wantJWKS fails unless the JWKS lists exactly the keys kids, public halves only.
func wantJWKS(t testing.TB, c *client, kids ...string) {
	t.Helper()
	r := c.do(http.MethodGet, "/.well-known/jwks.json", nil)
	r.wantStatus(t, http.StatusOK)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var got []string
	for _, k := range set.Keys {
		if _, private := k["d"]; private {
			t.Errorf("the JWKS publishes a private key")
		}
		kid, _ := k["kid"].(string)
		got = append(got, kid)
	}
	sort.Strings(got)
	want := slices.Clone(kids)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("JWKS kids %v; want %v", got, want)
	}
}

// keyMaterial returns the forms in which the private key of a PEM file could
// reach a log: the PEM, each line and the whole of its base64 body; and,
// separately, the forms of its secret part to look for even in fragments:
// the seed (the JWK "d") in base64url, base64 and hex, the 64-byte private
// key, and the part of the PEM body that encodes the seed.
func keyMaterial(t testing.TB, path string) (whole, secretParts map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the generated signing key: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := parsed.(ed25519.PrivateKey)
	seed := priv.Seed()
	body := base64.StdEncoding.EncodeToString(block.Bytes)
	whole = map[string]string{"PEM key": string(data), "key base64 body": body}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(line, "-----") {
			whole[fmt.Sprintf("PEM line %d", i)] = line
		}
	}
	// PKCS#8 Ed25519 is a fixed 16-byte prefix, then the 32-byte seed: from
	// character 24 on, the base64 body encodes only seed bytes.
	if !bytes.HasSuffix(block.Bytes, seed) || len(body) < 24 {
		t.Fatalf("%s is not the PKCS#8 form of an Ed25519 seed", path)
	}
	secretParts = map[string]string{
		"key seed in the PEM body": body[24:],
		"key seed (JWK d)":         base64.RawURLEncoding.EncodeToString(seed),
		"key seed (base64)":        base64.StdEncoding.EncodeToString(seed),
		"key seed (hex)":           hex.EncodeToString(seed),
		"private key (base64url)":  base64.RawURLEncoding.EncodeToString(priv),
		"private key (base64)":     base64.StdEncoding.EncodeToString(priv),
		"private key (hex)":        hex.EncodeToString(priv),
	}
	return whole, secretParts
}
