package bootstrap_test

// The HTTP end-to-end harness: the real fx-built service (bootstrap.App) on a
// fresh PostgreSQL database or SQLite file, served by httptest and driven
// through a client that checks every error answer against the contract's
// problem rules. Tests in api_test.go, sessions_test.go and failures_test.go.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/httpapi/apitest"
	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/bootstrap"
)

// base is the contract's BASE path of the user routes.
const base = "/api/v1/users"

// goodPassword meets the contract's password rule and is on no common list.
const goodPassword = "Tr1cky!Walrus"

// newPassword is a second valid password, for password changes.
const newPassword = "N3w!Walrus-Pass"

// database selects the store an app runs on.
type database string

const (
	postgresDB database = "postgres"
	sqliteDB   database = "sqlite"
)

// onEachDatabase runs fn as one subtest per database; fn passes db to newApp.
func onEachDatabase(t *testing.T, fn func(t *testing.T, db option)) {
	t.Helper()
	for _, d := range []database{postgresDB, sqliteDB} {
		t.Run(string(d), func(t *testing.T) { fn(t, onDatabase(d)) })
	}
}

// option changes how newApp builds the service.
type option func(*appSettings)

type appSettings struct {
	db     database
	config []func(*bootstrap.Config)
	fx     []fx.Option // extra fx options: fx.Decorate, fx.Populate
	dbURL  string      // PostgreSQL database of another app to share; "" makes a new one
}

// onDatabase picks the store; the default is PostgreSQL.
func onDatabase(d database) option { return func(s *appSettings) { s.db = d } }

// withConfig changes the service's configuration before it starts.
func withConfig(f func(*bootstrap.Config)) option {
	return func(s *appSettings) { s.config = append(s.config, f) }
}

// withFx adds fx options (fx.Decorate, fx.Populate, ...) to the app, after
// bootstrap.App.
func withFx(opts ...fx.Option) option {
	return func(s *appSettings) { s.fx = append(s.fx, opts...) }
}

// sharingDatabaseOf runs the app on the PostgreSQL database and with the
// signing key of another running app, as a second instance (or a restart with
// other settings) would. other owns the database: it is dropped when other's
// test ends.
func sharingDatabaseOf(other *client) option {
	return func(s *appSettings) {
		s.db = postgresDB
		s.dbURL = other.app.dbURL
		s.config = append(s.config, func(c *bootstrap.Config) {
			c.SigningKeyFiles = []string{filepath.Join(other.app.dataDir, tokens.DevKeyFile)}
		})
	}
}

// withGrace sets REFRESH_REUSE_GRACE.
func withGrace(d time.Duration) option {
	return withConfig(func(c *bootstrap.Config) { c.RefreshReuseGrace = d })
}

// client talks to one running service on behalf of one test. Use with(t) to
// get a client bound to a subtest.
type client struct {
	t   testing.TB
	app *app
}

// app is one running service and what the tests can see of it.
type app struct {
	url     string
	http    *http.Client
	logs    *syncBuffer
	dbName  string // the PostgreSQL database's name; "" on SQLite
	dbURL   string // the PostgreSQL database's URL; "" on SQLite
	dataDir string // DATA_DIR: the development signing key lives here

	mu      sync.Mutex
	secrets []string // tokens and passwords that must never reach the logs
}

// newApp builds and starts the real service (bootstrap.App) for t and stops it
// when t ends. The configuration is the defaults plus fast hashing, secure
// cookies, rate limits off, JSON logs into a buffer and a database of t's own.
func newApp(t *testing.T, opts ...option) *client {
	t.Helper()
	s := appSettings{db: postgresDB}
	for _, o := range opts {
		o(&s)
	}

	cfg := bootstrap.Defaults()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.CookieSecure = true
	cfg.Argon2MemoryKiB = 8192
	cfg.Argon2Time = 1
	cfg.MigrateOnStart = true
	cfg.LogFormat = "json"
	cfg.RateLimits = false
	// Hashing is bounded to HASH_MAX_CONCURRENT slots; under -race on two cores
	// twenty queued signups can wait longer than the 2 s default.
	cfg.HashQueueWait = 30 * time.Second
	cfg.ShutdownGrace = 5 * time.Second
	a := &app{logs: &syncBuffer{}, dataDir: cfg.DataDir}
	if s.db == postgresDB {
		cfg.DatabaseURL = s.dbURL
		if cfg.DatabaseURL == "" {
			cfg.DatabaseURL = sqltest.PostgresURL(t) // dropped when t ends, after the app stopped
		}
		a.dbURL = cfg.DatabaseURL
		u, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		a.dbName = strings.TrimPrefix(u.Path, "/")
	}
	for _, f := range s.config {
		f(&cfg)
	}

	var handler http.Handler
	fxApp := fxtest.New(t, append([]fx.Option{bootstrap.App(cfg, a.logs), fx.Populate(&handler)}, s.fx...)...)
	fxApp.RequireStart()
	t.Cleanup(fxApp.RequireStop)

	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	a.url = srv.URL
	a.http = &http.Client{
		// Every request and answer is checked against the OpenAPI document.
		Transport: apitest.NewValidator(t, httpapi.OpenAPIDocument()).Transport(srv.Client().Transport),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the contract forbids redirects: see them, do not follow
		},
		Timeout: 30 * time.Second,
	}
	t.Cleanup(func() { a.checkLogs(t) })
	return &client{t: t, app: a}
}

// with returns c bound to t, for subtests sharing one app.
func (c *client) with(t testing.TB) *client { return &client{t: t, app: c.app} }

// response is an answer, read in full.
type response struct {
	Status    int
	Header    http.Header
	Body      []byte
	readiness bool // an answer of /readyz
}

// reqOpt changes one request.
type reqOpt func(*http.Request)

// bearer sends an access token.
func bearer(token string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// withCookie sends the refresh cookie by hand: the secure cookie is never
// sent over plain http by a cookie jar.
func withCookie(value string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "refresh_token", Value: value}) }
}

// header sets a request header; an empty value removes it.
func header(name, value string) reqOpt {
	return func(r *http.Request) {
		if value == "" {
			r.Header.Del(name)
			return
		}
		r.Header.Set(name, value)
	}
}

// contentType replaces the request's Content-Type; "" sends none.
func contentType(ct string) reqOpt { return header("Content-Type", ct) }

// malformed marks a request that deliberately breaks the OpenAPI document, so
// the validating transport checks only its answer.
func malformed() reqOpt { return header(apitest.InvalidRequestHeader, "1") }

// do sends one request and returns the answer. body is nil (no body), a string
// or []byte (sent as is) or any other value (sent as JSON); a body gets
// Content-Type application/json unless an option changes it.
//
// Every answer is checked against the contract's general rules: never a 500;
// every 4xx/5xx is an RFC 9457 problem+json document whose status matches and
// which carries no SQL, stack trace, password hash or JWT; 503 and 429 carry
// Retry-After; no body ever carries a password hash.
func (c *client) do(method, path string, body any, opts ...reqOpt) *response {
	c.t.Helper()
	r, err := c.send(method, path, body, opts...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, problem := range r.contractViolations() {
		c.t.Errorf("%s %s → %d: %s\nbody: %.2000s", method, path, r.Status, problem, r.Body)
	}
	return r
}

// send is do without the checks and without failing the test, for use from
// several goroutines at once.
func (c *client) send(method, path string, body any, opts ...reqOpt) (*response, error) {
	var reader io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			reader = strings.NewReader(b)
		case []byte:
			reader = bytes.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				return nil, err
			}
			reader = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, c.app.url+path, reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.app.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	r := &response{Status: res.StatusCode, Header: res.Header, Body: b, readiness: path == "/readyz"}
	c.app.rememberSecrets(r)
	return r, nil
}

// jwtPattern finds anything shaped like a JWT (or a JWS header and payload).
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`)

// leaks are texts no error answer may contain.
var leaks = []string{"SELECT", "INSERT", "UPDATE ", "goroutine", "panic", "runtime/", ".go:", "$argon2id$", "$2a$", "pgx", "gorm", "SQLSTATE"}

// contractViolations lists what breaks the contract's rules for every answer.
func (r *response) contractViolations() []string {
	var out []string
	body := string(r.Body)
	if strings.Contains(body, "$argon2id$") {
		out = append(out, "body contains a password hash")
	}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
		out = append(out, "server error: the contract allows only 503 (for an unavailable dependency)")
	}
	if r.Status < 400 {
		return out
	}
	if r.readiness {
		// /readyz answers its probe state as JSON, 200 or 503, as the
		// OpenAPI document says; only Retry-After is asked of its 503.
		if r.Header.Get("Retry-After") == "" {
			out = append(out, "no Retry-After")
		}
		return out
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		out = append(out, fmt.Sprintf("Content-Type %q, want application/problem+json", ct))
	}
	var p struct {
		Type   *string `json:"type"`
		Title  *string `json:"title"`
		Status *int    `json:"status"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		out = append(out, "problem body is not a JSON object: "+err.Error())
	} else {
		if p.Type == nil || *p.Type == "" {
			out = append(out, "problem has no type")
		}
		if p.Title == nil || *p.Title == "" {
			out = append(out, "problem has no title")
		}
		if p.Status == nil || *p.Status != r.Status {
			out = append(out, "problem status does not match the HTTP status")
		}
	}
	for _, l := range leaks {
		if strings.Contains(body, l) {
			out = append(out, fmt.Sprintf("problem leaks %q", l))
		}
	}
	if jwtPattern.MatchString(body) {
		out = append(out, "problem leaks a token")
	}
	if (r.Status == http.StatusServiceUnavailable || r.Status == http.StatusTooManyRequests) && r.Header.Get("Retry-After") == "" {
		out = append(out, "no Retry-After")
	}
	return out
}

// object decodes a JSON object body.
func (r *response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// problem is the part of a problem document tests compare.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// fields returns the field names of a problem's errors.
func (p problem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// hasField reports whether the problem names field.
func (p problem) hasField(field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// wantProblem fails unless r has status and returns its problem document
// (do has already checked its shape).
func (r *response) wantProblem(t testing.TB, status int) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\nbody: %.2000s", r.Status, status, r.Body)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	return p
}

// wantStatus fails unless r has status.
func (r *response) wantStatus(t testing.TB, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d\nbody: %.2000s", r.Status, status, r.Body)
	}
}

// refreshCookie returns the refresh_token cookie the answer sets, or nil.
func (r *response) refreshCookie() *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "refresh_token" {
			return c
		}
	}
	return nil
}

// wantRefreshCookie fails unless the answer sets a refresh cookie with every
// attribute the contract lists and a positive Max-Age, and returns its value.
func (r *response) wantRefreshCookie(t testing.TB) string {
	t.Helper()
	c := r.refreshCookie()
	if c == nil {
		t.Fatalf("no refresh_token cookie set; Set-Cookie: %q", r.Header.Values("Set-Cookie"))
	}
	if c.Value == "" || c.Path != base || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || !c.Secure || c.MaxAge <= 0 {
		t.Errorf("refresh cookie %q, want a value, Path=%s, HttpOnly, SameSite=Strict, Secure and Max-Age > 0", c.Raw, base)
	}
	return c.Value
}

// wantClearedCookie fails unless the answer clears the refresh cookie: the
// same cookie with Max-Age=0.
func (r *response) wantClearedCookie(t testing.TB) {
	t.Helper()
	c := r.refreshCookie()
	if c == nil {
		t.Fatalf("refresh cookie not cleared; Set-Cookie: %q", r.Header.Values("Set-Cookie"))
	}
	if c.Value != "" || !strings.Contains(c.Raw, "Max-Age=0") || c.Path != base || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("cleared cookie %q, want an empty refresh_token with Max-Age=0, Path=%s, HttpOnly, Secure, SameSite=Strict", c.Raw, base)
	}
}

// token is the contract's Token body.
type token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// wantTokens fails unless r is a Token answer with status and the refresh
// cookie, and returns the session it starts or continues.
func (r *response) wantTokens(t testing.TB, status int) session {
	t.Helper()
	r.wantStatus(t, status)
	var tok token
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tok); err != nil {
		t.Fatalf("Token body: %v\n%s", err, r.Body)
	}
	if tok.AccessToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn <= 0 {
		t.Errorf("Token body %s, want an access_token, token_type bearer, expires_in > 0", r.Body)
	}
	if strings.Contains(string(r.Body), "refresh") {
		t.Errorf("Token body mentions the refresh token; it travels only in the cookie: %s", r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	return session{access: tok.AccessToken, refresh: r.wantRefreshCookie(t), expiresIn: tok.ExpiresIn}
}

// session is what a signed-in client holds.
type session struct {
	access    string
	refresh   string
	expiresIn int
}

// credentials are what signup sends.
type credentials struct {
	Username string  `json:"username"`
	Password string  `json:"password"`
	FullName *string `json:"full_name,omitempty"`
}

// signup creates user name with goodPassword and returns its first session.
func (c *client) signup(name string) session {
	c.t.Helper()
	return c.do(http.MethodPost, base+"/signup", credentials{Username: name, Password: goodPassword}).wantTokens(c.t, http.StatusCreated)
}

// login starts a new session and fails unless it gets 200.
func (c *client) login(name, password string) session {
	c.t.Helper()
	return c.do(http.MethodPost, base+"/login", map[string]string{"username": name, "password": password}).wantTokens(c.t, http.StatusOK)
}

// refresh presents a refresh cookie.
func (c *client) refresh(cookie string) *response {
	c.t.Helper()
	return c.do(http.MethodPost, base+"/refresh", nil, withCookie(cookie))
}

// me reads the caller's UserRead and fails unless it gets 200.
func (c *client) me(access string) userRead {
	c.t.Helper()
	r := c.do(http.MethodGet, base+"/me", nil, bearer(access))
	r.wantStatus(c.t, http.StatusOK)
	return r.user(c.t)
}

// userRead is the contract's UserRead. FullName is nil for JSON null.
type userRead struct {
	ID        string  `json:"id"`
	Username  string  `json:"username"`
	FullName  *string `json:"full_name"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// String shows the full name's value, not its address.
func (u userRead) String() string {
	full := "null"
	if u.FullName != nil {
		full = fmt.Sprintf("%q", *u.FullName)
	}
	return fmt.Sprintf("{id %s, username %q, full_name %s, created_at %s, updated_at %s}", u.ID, u.Username, full, u.CreatedAt, u.UpdatedAt)
}

// same reports whether two UserReads are equal field by field.
func (u userRead) same(v userRead) bool { return u.String() == v.String() }

// user decodes a UserRead body, failing on unknown or missing fields.
func (r *response) user(t testing.TB) userRead {
	t.Helper()
	var u userRead
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		t.Fatalf("UserRead body: %v\n%s", err, r.Body)
	}
	m := r.object(t)
	for _, k := range []string{"id", "username", "full_name", "created_at", "updated_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("UserRead lacks %q: %s", k, r.Body)
		}
	}
	return u
}

// wantAccessRefused fails unless an access token is refused as a bearer (401 with
// WWW-Authenticate: Bearer) on GET /me.
func (c *client) wantAccessRefused(access string) {
	c.t.Helper()
	r := c.do(http.MethodGet, base+"/me", nil, bearer(access))
	r.wantProblem(c.t, http.StatusUnauthorized)
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		c.t.Errorf("WWW-Authenticate %q, want Bearer ...", h)
	}
}

// wantRefreshRefused fails unless a refresh cookie is refused with 401.
func (c *client) wantRefreshRefused(cookie string) {
	c.t.Helper()
	c.refresh(cookie).wantProblem(c.t, http.StatusUnauthorized)
}

// signupBody is a valid signup body for name, with changes applied.
func signupBody(name string, changes map[string]any) map[string]any {
	b := map[string]any{"username": name, "password": goodPassword}
	for k, v := range changes {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

// wantNothingWritten fails unless name is still free: a valid signup of it
// gets 201. So the refused request before it stored no account.
func (c *client) wantNothingWritten(name string) {
	c.t.Helper()
	c.signup(name)
}

// str returns a pointer to s, for optional JSON fields.
func str(s string) *string { return &s }

// jwtParts decodes a JWT's header and claims without verifying it.
func jwtParts(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	decode := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("token part: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("token part: %v", err)
		}
		return m
	}
	return decode(parts[0]), decode(parts[1])
}

// rememberSecrets keeps the tokens an answer hands out, so checkLogs can make
// sure none reaches the logs.
func (a *app) rememberSecrets(r *response) {
	var tok token
	_ = json.Unmarshal(r.Body, &tok)
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok.AccessToken != "" {
		a.secrets = append(a.secrets, tok.AccessToken)
	}
	if c := r.refreshCookie(); c != nil && c.Value != "" {
		a.secrets = append(a.secrets, c.Value)
	}
}

// checkLogs fails when the service logged a token, a password, a hash or a
// panic, or when any log line is not JSON.
func (a *app) checkLogs(t testing.TB) {
	t.Helper()
	logs := a.logs.String()
	a.mu.Lock()
	secrets := append([]string{goodPassword, newPassword, "$argon2id$"}, a.secrets...)
	a.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the service logged a secret (%.12s…)", s)
		}
	}
	for _, line := range a.logLines(t) {
		if line["msg"] == "panic" {
			t.Errorf("the service panicked: %v", line)
		}
	}
}

// logLines returns the service's log records so far.
func (a *app) logLines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(a.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON (LOG_FORMAT=json): %q", line)
			continue
		}
		out = append(out, m)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the service's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// adminExec runs SQL on the PostgreSQL server's maintenance connection (the
// database TEST_DATABASE_URL names, never the app's own), for tests that
// break the app's database on purpose.
func adminExec(t testing.TB, sql string, args ...any) {
	t.Helper()
	withAdmin(t, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("admin %q: %v", sql, err)
		}
	})
}

// adminQueryStrings runs a query on the maintenance connection and returns
// its first column.
func adminQueryStrings(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	var out []string
	withAdmin(t, func(ctx context.Context, conn *pgx.Conn) {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			t.Fatalf("admin %q: %v", sql, err)
		}
		if out, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatalf("admin %q: %v", sql, err)
		}
	})
	return out
}

// withAdmin runs fn on a new connection to the server's maintenance
// database (TEST_DATABASE_URL), closed afterwards.
func withAdmin(t testing.TB, fn func(ctx context.Context, conn *pgx.Conn)) {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = sqltest.DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	defer conn.Close(context.Background())
	fn(ctx, conn)
}

// eventually polls cond every 100 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
