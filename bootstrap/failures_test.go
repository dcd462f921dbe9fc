package bootstrap_test

// The contract's Failures table, row by row, hostile input, and a database
// outage. Every answer here also passes do's general checks: problem+json with
// matching status, no SQL, stack, hash or token, Retry-After on 503/429.

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

func TestBodiesThatAreNotJSONObjectsAre400(t *testing.T) {
	c := newApp(t)
	s := c.signup("Typist")
	before := c.me(s.access)
	signup, login := base+"/signup", base+"/login"
	// Bodies every route with a body refuses with 400.
	everywhere := map[string]string{
		"truncated JSON":           `{"username": "bad400", "password": `,
		"JSON array":               `[{"username": "bad400", "password": "` + goodPassword + `"}]`,
		"JSON string":              `"bad400"`,
		"JSON null":                `null`,
		"number as the whole body": `42`,
		"empty body":               ``,
		"trailing data":            `{"username": "bad400", "password": "` + goodPassword + `"} {}`,
		"single quotes":            `{'username': 'bad400'}`,
		"comment in JSON":          `{"username": "bad400", /* hi */ "password": "` + goodPassword + `"}`,
		"unterminated string":      `{"username": "bad400`,
		"number for username":      `{"username": 400, "password": "` + goodPassword + `"}`,
		"boolean for password":     `{"username": "bad400", "password": true}`,
		"array for username":       `{"username": ["bad400"], "password": "` + goodPassword + `"}`,
		"object for password":      `{"username": "bad400", "password": {"value": "x"}}`,
	}
	for name, body := range everywhere {
		t.Run(name, func(t *testing.T) {
			c := c.with(t)
			c.do(http.MethodPost, signup, body, malformed()).wantProblem(t, http.StatusBadRequest)
			c.do(http.MethodPost, login, body, malformed()).wantProblem(t, http.StatusBadRequest)
			c.do(http.MethodPut, base, body, bearer(s.access), malformed()).wantProblem(t, http.StatusBadRequest)
			c.do(http.MethodPatch, base, body, bearer(s.access), malformed()).wantProblem(t, http.StatusBadRequest)
		})
	}
	// Wrong types of fields that only some routes have.
	typed := []struct {
		name, body string
		paths      []string
	}{
		{"object for full_name", `{"username": "bad400", "password": "` + goodPassword + `", "full_name": {"first": "Ann"}}`, []string{signup}},
		{"number for full_name", `{"username": "bad400", "password": "` + goodPassword + `", "full_name": 7}`, []string{signup}},
		{"number for current_password", `{"username": "Typist", "password": "` + goodPassword + `", "current_password": 1}`, nil},
		{"boolean for full_name", `{"full_name": false}`, nil},
	}
	for _, tc := range typed {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			for _, path := range tc.paths {
				c.do(http.MethodPost, path, tc.body, malformed()).wantProblem(t, http.StatusBadRequest)
			}
			c.do(http.MethodPut, base, tc.body, bearer(s.access), malformed()).wantProblem(t, http.StatusBadRequest)
			c.do(http.MethodPatch, base, tc.body, bearer(s.access), malformed()).wantProblem(t, http.StatusBadRequest)
		})
	}
	c.wantNothingWritten("bad400")
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("refused updates changed the user: %v → %v", before, after)
	}
}

func TestBearerFailuresAre401WithChallenge(t *testing.T) {
	c := newApp(t)
	s := c.signup("Holder")
	h, claims := jwtParts(t, s.access)
	pub := publishedKey(t, c, h["kid"].(string))
	ownKey := devSigningKey(t, c)

	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(method jwt.SigningMethod, key any, header, claims map[string]any) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
		for k, v := range header {
			if k != "alg" {
				tok.Header[k] = v
			}
		}
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	withClaim := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range m {
			out[key] = val
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	parts := strings.Split(s.access, ".")
	b64 := func(m map[string]any) string {
		j, _ := json.Marshal(m)
		return base64.RawURLEncoding.EncodeToString(j)
	}
	now := time.Now().Unix()

	cases := map[string]string{
		"malformed":                       "not-a-token",
		"three garbage parts":             "abc.def.ghi",
		"truncated signature":             s.access[:len(s.access)-4],
		"signed by another key":           sign(jwt.SigningMethodEdDSA, stranger, h, claims),
		"signed by another key, no kid":   sign(jwt.SigningMethodEdDSA, stranger, withClaim(h, "kid", nil), claims),
		"alg none":                        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, h, claims),
		"alg none, no signature part":     b64(withClaim(h, "alg", "none")) + "." + parts[1],
		"HS256 keyed with the public key": sign(jwt.SigningMethodHS256, []byte(pub), h, claims),
		"claims changed after signing":    parts[0] + "." + b64(withClaim(claims, "sub", uuid.NewString())) + "." + parts[2],
		"header changed after signing":    b64(withClaim(h, "typ", "JWT")) + "." + parts[1] + "." + parts[2],
		"expired (own key)":               sign(jwt.SigningMethodEdDSA, ownKey, h, withClaim(withClaim(claims, "exp", now-60), "iat", now-120)),
		"wrong issuer (own key)":          sign(jwt.SigningMethodEdDSA, ownKey, h, withClaim(claims, "iss", "someone-else")),
		"wrong audience (own key)":        sign(jwt.SigningMethodEdDSA, ownKey, h, withClaim(claims, "aud", "someone-else")),
		"refresh typ (own key)":           sign(jwt.SigningMethodEdDSA, ownKey, withClaim(h, "typ", "refresh+jwt"), claims),
		"unknown user (own key)":          sign(jwt.SigningMethodEdDSA, ownKey, h, withClaim(claims, "sub", uuid.NewString())),
		"no exp (own key)":                sign(jwt.SigningMethodEdDSA, ownKey, h, withClaim(claims, "exp", nil)),
		"refresh token as bearer":         s.refresh,
	}
	// A token signed with the service's own key for a session it never
	// started is not here: only a stolen signing key can make one, and the
	// authenticator refuses sessions that have ended (a deny list kept in
	// memory, as every instance learns of revocations), not sessions it has
	// not seen.
	//
	// The forgeries made with the service's own key are otherwise right: the
	// same claims and header signed with it must pass.
	c.me(sign(jwt.SigningMethodEdDSA, ownKey, h, claims))

	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c := c.with(t)
			c.wantAccessRefused(tok)
			// Valid bodies: only the token is wrong.
			for _, req := range []struct {
				method string
				body   any
			}{
				{http.MethodPut, map[string]any{"username": "Stolen", "password": newPassword, "current_password": goodPassword}},
				{http.MethodPatch, map[string]any{"username": "Stolen"}},
				{http.MethodDelete, nil},
			} {
				r := c.do(req.method, base, req.body, bearer(tok))
				r.wantProblem(t, http.StatusUnauthorized)
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", req.method, r.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}

	headers := map[string][]reqOpt{
		"no Authorization":       nil,
		"empty bearer":           {header("Authorization", "Bearer ")},
		"Basic scheme":           {header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("Holder:"+goodPassword)))},
		"token without a scheme": {header("Authorization", s.access)},
		"token in a cookie only": {withCookie(s.access)},
	}
	for name, opts := range headers {
		t.Run(name, func(t *testing.T) {
			r := c.with(t).do(http.MethodGet, base+"/me", nil, append(opts, malformed())...)
			r.wantProblem(t, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// None of this touched the account.
	if me := c.me(s.access); me.Username != "Holder" {
		t.Errorf("me %v", me)
	}
	c.login("Holder", goodPassword)
}

func TestRevokedSessionIs401EvenWithABadBody(t *testing.T) {
	c := newApp(t)
	s := c.signup("Revoked")
	c.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantStatus(t, http.StatusNoContent)
	// "an access token whose session has been revoked gets 401 on every
	// route": authentication is judged before the body.
	for name, req := range map[string]struct {
		method string
		body   any
		opts   []reqOpt
	}{
		"PUT with missing fields":  {http.MethodPut, map[string]any{}, nil},
		"PUT with a bad username":  {http.MethodPut, map[string]any{"username": "a b", "password": goodPassword, "current_password": goodPassword}, nil},
		"PATCH with a bad field":   {http.MethodPatch, map[string]any{"full_name": "R2-D2"}, nil},
		"PATCH with invalid JSON":  {http.MethodPatch, `{"full_name":`, nil},
		"PATCH with text/plain":    {http.MethodPatch, `{}`, []reqOpt{contentType("text/plain")}},
		"PATCH with unknown field": {http.MethodPatch, map[string]any{"id": "x"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			opts := append([]reqOpt{bearer(s.access), malformed()}, req.opts...)
			r := c.with(t).do(req.method, base, req.body, opts...)
			r.wantProblem(t, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// publishedKey returns the JWKS key with kid.
func publishedKey(t *testing.T, c *client, kid string) ed25519.PublicKey {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(c.do(http.MethodGet, "/.well-known/jwks.json", nil).Body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
	}
	t.Fatalf("no published key %s", kid)
	return nil
}

// devSigningKey reads the development key the service generated in its
// DATA_DIR, to forge tokens that are well signed but otherwise wrong.
func devSigningKey(t *testing.T, c *client) ed25519.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.app.dataDir, tokens.DevKeyFile))
	if err != nil {
		t.Fatalf("development signing key: %v", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("development signing key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(ed25519.PrivateKey)
}

func TestWrongCurrentPasswordIs403AndChangesNothing(t *testing.T) {
	c := newApp(t)
	s := c.signup("Guarded")
	other := c.login("guarded", goodPassword)
	before := c.me(s.access)
	requests := map[string]struct {
		method string
		body   map[string]any
	}{
		"PUT":                      {http.MethodPut, map[string]any{"username": "Stolen", "password": newPassword, "current_password": "Wr0ng!Password"}},
		"PATCH password":           {http.MethodPatch, map[string]any{"password": newPassword, "current_password": "Wr0ng!Password"}},
		"PATCH with other changes": {http.MethodPatch, map[string]any{"username": "Stolen", "full_name": "Mallory", "current_password": "Wr0ng!Password"}},
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			c.with(t).do(req.method, base, req.body, bearer(s.access)).wantProblem(t, http.StatusForbidden)
		})
	}
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("a refused change was stored: %+v → %+v", before, after)
	}
	c.me(other.access) // no session was revoked
	c.login("Guarded", goodPassword)
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "Guarded", "password": newPassword}).
		wantProblem(t, http.StatusUnauthorized)
}

func TestTakenUsernameIs409CaseInsensitively(t *testing.T) {
	c := newApp(t)
	alice := c.signup("Alice")
	for _, name := range []string{"Alice", "alice", "ALICE", "aLICE"} {
		r := c.do(http.MethodPost, base+"/signup", credentials{Username: name, Password: newPassword})
		r.wantProblem(t, http.StatusConflict)
		if r.refreshCookie() != nil {
			t.Errorf("409 signup %s set a cookie", name)
		}
	}
	// Alice's account is untouched: her password is still hers.
	c.login("alice", goodPassword)

	bob := c.signup("Bob")
	c.do(http.MethodPut, base, map[string]any{"username": "ALICE", "password": goodPassword, "current_password": goodPassword}, bearer(bob.access)).
		wantProblem(t, http.StatusConflict)
	c.do(http.MethodPatch, base+"/", map[string]any{"username": "aLiCe"}, bearer(bob.access)).
		wantProblem(t, http.StatusConflict)
	c.do(http.MethodPatch, base, map[string]any{"username": "alice", "full_name": "Bob Builder"}, bearer(bob.access)).
		wantProblem(t, http.StatusConflict)
	if me := c.me(bob.access); me.Username != "Bob" || me.FullName != nil {
		t.Errorf("a refused rename changed Bob: %+v", me)
	}
	if me := c.me(alice.access); me.Username != "Alice" {
		t.Errorf("Alice changed: %+v", me)
	}

	// Changing only the case of one's own name is not a conflict.
	r := c.do(http.MethodPatch, base, map[string]any{"username": "BOB"}, bearer(bob.access))
	r.wantStatus(t, http.StatusOK)
	if u := r.user(t); u.Username != "BOB" {
		t.Errorf("rename to BOB answered %+v", u)
	}
}

func TestBodyOver64KiBIs413(t *testing.T) {
	c := newApp(t)
	s := c.signup("Sizer")
	before := c.me(s.access)

	// padded is a valid signup body of exactly size bytes.
	padded := func(name string, size int) string {
		body := `{"username": "` + name + `", "password": "` + goodPassword + `"`
		return body + strings.Repeat(" ", size-len(body)-1) + "}"
	}
	c.do(http.MethodPost, base+"/signup", padded("exact64k", 64<<10)).wantTokens(t, http.StatusCreated)
	c.do(http.MethodPost, base+"/signup", padded("over64k", 64<<10+1), malformed()).wantProblem(t, http.StatusRequestEntityTooLarge)
	c.wantNothingWritten("over64k")

	huge := strings.Repeat("a", 70_000)
	c.do(http.MethodPost, base+"/signup", signupBody("huge", map[string]any{"full_name": huge}), malformed()).
		wantProblem(t, http.StatusRequestEntityTooLarge)
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "Sizer", "password": huge}, malformed()).
		wantProblem(t, http.StatusRequestEntityTooLarge)
	c.do(http.MethodPatch, base, map[string]any{"full_name": huge}, bearer(s.access), malformed()).
		wantProblem(t, http.StatusRequestEntityTooLarge)
	c.do(http.MethodPut, base, map[string]any{"username": "Sizer", "password": goodPassword, "current_password": goodPassword, "full_name": huge}, bearer(s.access), malformed()).
		wantProblem(t, http.StatusRequestEntityTooLarge)
	c.wantNothingWritten("huge")
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("an oversize update was stored: %+v → %+v", before, after)
	}
}

func TestBodyThatIsNotJSONIs415(t *testing.T) {
	c := newApp(t)
	s := c.signup("Typed")
	before := c.me(s.access)
	types := map[string]string{
		"text/plain":                          "text/plain",
		"no Content-Type":                     "",
		"form":                                "application/x-www-form-urlencoded",
		"multipart":                           "multipart/form-data; boundary=x",
		"xml":                                 "application/xml",
		"garbage":                             "json",
		"text/plain with a JSON-looking body": "text/plain; charset=utf-8",
	}
	body := credentials{Username: "plain415", Password: goodPassword, FullName: str("Plain Text")}
	for name, ct := range types {
		t.Run(name, func(t *testing.T) {
			c := c.with(t)
			c.do(http.MethodPost, base+"/signup", body, contentType(ct), malformed()).wantProblem(t, http.StatusUnsupportedMediaType)
			c.do(http.MethodPost, base+"/login", map[string]string{"username": "Typed", "password": goodPassword}, contentType(ct), malformed()).
				wantProblem(t, http.StatusUnsupportedMediaType)
			c.do(http.MethodPatch, base, map[string]any{"full_name": "Plain Text"}, bearer(s.access), contentType(ct), malformed()).
				wantProblem(t, http.StatusUnsupportedMediaType)
			c.do(http.MethodPut, base, map[string]any{"username": "Typed", "password": goodPassword, "current_password": goodPassword, "full_name": "Plain Text"},
				bearer(s.access), contentType(ct), malformed()).wantProblem(t, http.StatusUnsupportedMediaType)
		})
	}
	c.wantNothingWritten("plain415")
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("a non-JSON update was stored: %+v → %+v", before, after)
	}
}

func TestFieldRulesAre422(t *testing.T) {
	c := newApp(t)
	cases := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"username with a space", signupBody("al ice", nil), []string{"username"}},
		{"username with a symbol", signupBody("alice!", nil), []string{"username"}},
		{"username with a non-ASCII letter", signupBody("ålice", nil), []string{"username"}},
		{"username with an underscore", signupBody("al_ice", nil), []string{"username"}},
		{"empty username", signupBody("", nil), []string{"username"}},
		{"51-character username", signupBody(strings.Repeat("u", 51), nil), []string{"username"}},
		{"password without an upper-case letter", signupBody("rule1", map[string]any{"password": "tr1cky!walrus"}), []string{"password"}},
		{"password without a lower-case letter", signupBody("rule2", map[string]any{"password": "TR1CKY!WALRUS"}), []string{"password"}},
		{"password without a digit", signupBody("rule3", map[string]any{"password": "Tricky!Walrus"}), []string{"password"}},
		{"password without a symbol", signupBody("rule4", map[string]any{"password": "Tr1ckyWalrus"}), []string{"password"}},
		{"7-character password", signupBody("rule5", map[string]any{"password": "Tr1!abc"}), []string{"password"}},
		{"26-character password", signupBody("rule6", map[string]any{"password": "Tr1!" + strings.Repeat("a", 22)}), []string{"password"}},
		{"empty password", signupBody("rule7", map[string]any{"password": ""}), []string{"password"}},
		{"full_name with digits", signupBody("rule8", map[string]any{"full_name": "Anne2"}), []string{"full_name"}},
		{"full_name with a leading space", signupBody("rule9", map[string]any{"full_name": " Anne"}), []string{"full_name"}},
		{"full_name with a trailing space", signupBody("rule10", map[string]any{"full_name": "Anne "}), []string{"full_name"}},
		{"full_name with a double hyphen", signupBody("rule11", map[string]any{"full_name": "Anne--Marie"}), []string{"full_name"}},
		{"full_name with a leading hyphen", signupBody("rule12", map[string]any{"full_name": "-Anne"}), []string{"full_name"}},
		{"full_name with a trailing hyphen", signupBody("rule13", map[string]any{"full_name": "Anne-"}), []string{"full_name"}},
		{"full_name with a double space", signupBody("rule14", map[string]any{"full_name": "Anne  Marie"}), []string{"full_name"}},
		{"101-character full_name", signupBody("rule15", map[string]any{"full_name": strings.Repeat("a", 101)}), []string{"full_name"}},
		{"empty full_name", signupBody("rule16", map[string]any{"full_name": ""}), []string{"full_name"}},
		{"full_name with a symbol", signupBody("rule17", map[string]any{"full_name": "Anne & Marie"}), []string{"full_name"}},
		{"missing username", signupBody("", map[string]any{"username": nil}), []string{"username"}},
		{"missing password", signupBody("rule18", map[string]any{"password": nil}), []string{"password"}},
		{"null password", signupBody("rule19", map[string]any{"password": json.RawMessage("null")}), []string{"password"}},
		{"unknown field usernmae", map[string]any{"usernmae": "rule20", "password": goodPassword}, []string{"usernmae", "username"}},
		{"unknown field id", signupBody("rule21", map[string]any{"id": uuid.NewString()}), []string{"id"}},
		{"unknown field created_at", signupBody("rule22", map[string]any{"created_at": "2020-01-01T00:00:00Z"}), []string{"created_at"}},
		{"every field bad at once", map[string]any{"username": "bad name", "password": "short", "full_name": "X1"}, []string{"username", "password", "full_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			p := c.do(http.MethodPost, base+"/signup", tc.body, malformed()).wantProblem(t, http.StatusUnprocessableEntity)
			for _, f := range tc.fields {
				if !p.hasField(f) {
					t.Errorf("errors %v do not name %q", p.fields(), f)
				}
			}
			for _, e := range p.Errors {
				if e.Message == "" || !slices.Contains(tc.fields, e.Field) {
					t.Errorf("unexpected error entry %+v", e)
				}
				if pw, ok := tc.body["password"].(string); ok && len(pw) >= 5 && strings.Contains(e.Message, pw) {
					t.Errorf("error message echoes the password: %q", e.Message)
				}
			}
			if name, ok := tc.body["username"].(string); ok && strings.HasPrefix(name, "rule") {
				c.wantNothingWritten(name)
			}
		})
	}
}

func TestBoundaryAndInternationalValuesAreAccepted(t *testing.T) {
	c := newApp(t)
	cases := map[string]map[string]any{
		"1-character username":           signupBody("Q", nil),
		"50-character username":          signupBody(strings.Repeat("Z", 50), nil),
		"8-character password":           signupBody("edge8", map[string]any{"password": "Tr1!abcd"}),
		"25-character password":          signupBody("edge25", map[string]any{"password": "Tr1!" + strings.Repeat("b", 21)}),
		"100-character full_name":        signupBody("edge100", map[string]any{"full_name": strings.Repeat("é", 100)}),
		"Anne-Marie":                     signupBody("name1", map[string]any{"full_name": "Anne-Marie"}),
		"José Núñez":                     signupBody("name2", map[string]any{"full_name": "José Núñez"}),
		"O'Brien":                        signupBody("name3", map[string]any{"full_name": "O'Brien"}),
		"combining mark":                 signupBody("name4", map[string]any{"full_name": "Jose\u0301"}),
		"another script":                 signupBody("name5", map[string]any{"full_name": "李小龍"}),
		"several separators":             signupBody("name6", map[string]any{"full_name": "Mary Anne O'Neil-Smith"}),
		"full_name null":                 signupBody("name7", map[string]any{"full_name": json.RawMessage("null")}),
		"symbol that is not punctuation": signupBody("pw1", map[string]any{"password": "Tr1cky€Walrus"}),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			c := c.with(t)
			s := c.do(http.MethodPost, base+"/signup", body).wantTokens(t, http.StatusCreated)
			me := c.me(s.access)
			if me.Username != body["username"] {
				t.Errorf("username %q stored as %q", body["username"], me.Username)
			}
			if want, ok := body["full_name"].(string); ok && (me.FullName == nil || *me.FullName != want) {
				t.Errorf("full_name %q stored as %v", want, me.FullName)
			}
			if pw, _ := body["password"].(string); pw != goodPassword {
				c.login(me.Username, pw)
			}
		})
	}
}

func TestUpdateRulesAre422(t *testing.T) {
	c := newApp(t)
	s := c.do(http.MethodPost, base+"/signup", signupBody("Updater", map[string]any{"full_name": "Up Dater"})).wantTokens(t, http.StatusCreated)
	other := c.login("updater", goodPassword)
	before := c.me(s.access)
	cases := []struct {
		name   string
		method string
		body   map[string]any
		fields []string
	}{
		{"PATCH password without current_password", http.MethodPatch, map[string]any{"password": newPassword}, []string{"current_password"}},
		{"PATCH weak password", http.MethodPatch, map[string]any{"password": "weak", "current_password": goodPassword}, []string{"password"}},
		{"PATCH bad username", http.MethodPatch, map[string]any{"username": "no way"}, []string{"username"}},
		{"PATCH null username", http.MethodPatch, map[string]any{"username": nil}, []string{"username"}},
		{"PATCH bad full_name", http.MethodPatch, map[string]any{"full_name": "R2-D2"}, []string{"full_name"}},
		{"PATCH unknown field id", http.MethodPatch, map[string]any{"id": uuid.NewString()}, []string{"id"}},
		{"PATCH unknown field created_at", http.MethodPatch, map[string]any{"created_at": "2020-01-01T00:00:00Z"}, []string{"created_at"}},
		{"PATCH unknown field updated_at", http.MethodPatch, map[string]any{"updated_at": "2020-01-01T00:00:00Z"}, []string{"updated_at"}},
		{"PATCH several bad fields", http.MethodPatch, map[string]any{"username": "x y", "full_name": "9", "password": "p"}, []string{"username", "full_name", "password", "current_password"}},
		{"PUT missing current_password", http.MethodPut, map[string]any{"username": "Updater", "password": newPassword}, []string{"current_password"}},
		{"PUT missing password", http.MethodPut, map[string]any{"username": "Updater", "current_password": goodPassword}, []string{"password"}},
		{"PUT missing username", http.MethodPut, map[string]any{"password": newPassword, "current_password": goodPassword}, []string{"username"}},
		{"PUT unknown field id", http.MethodPut, map[string]any{"username": "Updater", "password": goodPassword, "current_password": goodPassword, "id": uuid.NewString()}, []string{"id"}},
		{"PUT bad full_name", http.MethodPut, map[string]any{"username": "Updater", "password": goodPassword, "current_password": goodPassword, "full_name": "Anne--Marie"}, []string{"full_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.with(t).do(tc.method, base, tc.body, bearer(s.access), malformed()).wantProblem(t, http.StatusUnprocessableEntity)
			for _, f := range tc.fields {
				if !p.hasField(f) {
					t.Errorf("errors %v do not name %q", p.fields(), f)
				}
			}
		})
	}
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("a refused update was stored: %+v → %+v", before, after)
	}
	c.me(other.access) // no password changed, so no session was revoked
	c.login("Updater", goodPassword)
}

func TestHostileInputIsRefusedAndNothingIsWritten(t *testing.T) {
	c := newApp(t)
	victim := c.do(http.MethodPost, base+"/signup", signupBody("victim", map[string]any{"full_name": "Vic Tim"})).wantTokens(t, http.StatusCreated)
	before := c.me(victim.access)

	deep := strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000)
	deepObject := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
	cases := []struct {
		name  string
		path  string
		body  any
		write string // a username the request would have created
	}{
		{"SQL in username at signup", "/signup", signupBody("x' OR '1'='1", nil), ""},
		{"SQL in username at login", "/login", map[string]string{"username": "x' OR '1'='1", "password": goodPassword}, ""},
		{"SQL comment in username", "/login", map[string]string{"username": "victim'--", "password": "x"}, ""},
		{"SQL in full_name", "/signup", signupBody("sqlname", map[string]any{"full_name": "Robert'); DROP TABLE users;--"}), "sqlname"},
		{"SQL in password at login", "/login", map[string]string{"username": "victim", "password": "x' OR '1'='1"}, ""},
		{"NUL in username", "/signup", signupBody("nul\u0000user", nil), ""},
		{"NUL in full_name", "/signup", signupBody("nulname", map[string]any{"full_name": "Ann\u0000e"}), "nulname"},
		{"NUL in password", "/signup", signupBody("nulpass", map[string]any{"password": "Tr1cky!Wal\u0000rus"}), "nulpass"},
		{"NUL in login username", "/login", map[string]string{"username": "victim\u0000", "password": goodPassword}, ""},
		{"invalid UTF-8 in username", "/signup", []byte("{\"username\": \"utf\xff\xfe\", \"password\": \"" + goodPassword + "\"}"), ""},
		{"invalid UTF-8 in full_name", "/signup", []byte("{\"username\": \"utf8name\", \"password\": \"" + goodPassword + "\", \"full_name\": \"Jos\xe9\"}"), "utf8name"},
		{"invalid UTF-8 in password", "/signup", []byte("{\"username\": \"utf8pass\", \"password\": \"Tr1cky!\xc3\x28Walrus\"}"), "utf8pass"},
		{"lone surrogate escape", "/signup", signupBody("surrogate", map[string]any{"full_name": json.RawMessage(`"Ann\ud800e"`)}), "surrogate"},
		{"10,000-deep arrays", "/signup", `{"username": "deeparray", "password": "` + goodPassword + `", "full_name": ` + deep + `}`, "deeparray"},
		{"10,000-deep objects", "/signup", `{"username": "deepobject", "password": "` + goodPassword + `", "full_name": ` + deepObject + `}`, "deepobject"},
		{"10,000-deep body", "/signup", deep, ""},
		{"control characters in full_name", "/signup", signupBody("ctrlname", map[string]any{"full_name": "Ann\u001be[31m"}), "ctrlname"},
		{"right-to-left override in username", "/signup", signupBody("rtl\u202euser", nil), ""},
		{"very long username", "/signup", signupBody(strings.Repeat("a", 10_000), nil), ""},
		{"very long login password", "/login", map[string]string{"username": "victim", "password": strings.Repeat("A1!a", 5_000)}, ""},
		{"duplicate keys smuggling an id", "/signup", `{"username": "dupkey", "password": "` + goodPassword + `", "id": "x", "id": "y"}`, "dupkey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			r := c.do(http.MethodPost, base+tc.path, tc.body, malformed())
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d, want 4xx: %.300s", r.Status, r.Body)
			}
			if tc.path == "/login" && r.Status == http.StatusOK {
				t.Fatal("hostile login succeeded")
			}
			if r.refreshCookie() != nil && r.refreshCookie().Value != "" {
				t.Error("a refused request set a refresh cookie")
			}
			if tc.write != "" {
				c.wantNothingWritten(tc.write)
			}
		})
	}

	for name, body := range map[string]any{
		"NUL in full_name":           map[string]any{"full_name": "Vic\u0000Tim"},
		"SQL in username":            map[string]any{"username": "victim' --"},
		"invalid UTF-8 in full_name": []byte("{\"full_name\": \"V\xffic\"}"),
		"deep nesting":               `{"full_name": ` + deep + `}`,
	} {
		t.Run("PATCH "+name, func(t *testing.T) {
			r := c.with(t).do(http.MethodPatch, base, body, bearer(victim.access), malformed())
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d, want 4xx", r.Status)
			}
		})
	}

	if after := c.me(victim.access); !after.same(before) {
		t.Errorf("hostile requests changed the victim: %+v → %+v", before, after)
	}
	c.login("victim", goodPassword)
}

func TestTooManyAttemptsAre429WithRetryAfter(t *testing.T) {
	limited := func(f func(*bootstrap.Config)) option {
		return withConfig(func(cfg *bootstrap.Config) {
			cfg.RateLimits = true
			cfg.LimitSignUpPerIP, cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP, cfg.LimitFailedLogIns = ports.Limit{}, ports.Limit{}, ports.Limit{}, ports.Limit{}
			f(cfg)
		})
	}
	want429 := func(t *testing.T, r *response) {
		t.Helper()
		r.wantProblem(t, http.StatusTooManyRequests)
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a whole number of seconds ≥ 1", r.Header.Get("Retry-After"))
		}
	}

	t.Run("failed logins of one username", func(t *testing.T) {
		c := newApp(t, limited(func(cfg *bootstrap.Config) { cfg.LimitFailedLogIns = ports.Limit{Events: 3, Window: time.Hour} }))
		c.signup("Target")
		c.signup("Bystander")
		for range 3 {
			c.do(http.MethodPost, base+"/login", map[string]string{"username": "target", "password": "Wr0ng!Guess"}).
				wantProblem(t, http.StatusUnauthorized)
		}
		// Locked: even the right password waits now, in any case of the name.
		want429(t, c.do(http.MethodPost, base+"/login", map[string]string{"username": "TARGET", "password": goodPassword}))
		c.login("Bystander", goodPassword)
	})
	t.Run("signups per client", func(t *testing.T) {
		c := newApp(t, limited(func(cfg *bootstrap.Config) { cfg.LimitSignUpPerIP = ports.Limit{Events: 2, Window: time.Hour} }))
		c.signup("First")
		c.signup("Second")
		want429(t, c.do(http.MethodPost, base+"/signup", credentials{Username: "Third", Password: goodPassword}))
		c.login("First", goodPassword) // logins have their own budget
	})
	t.Run("refreshes per client", func(t *testing.T) {
		c := newApp(t, limited(func(cfg *bootstrap.Config) { cfg.LimitRefreshPerIP = ports.Limit{Events: 2, Window: time.Hour} }))
		s := c.signup("Refresher")
		s = c.refresh(s.refresh).wantTokens(t, http.StatusOK)
		s = c.refresh(s.refresh).wantTokens(t, http.StatusOK)
		r := c.refresh(s.refresh)
		want429(t, r)
		if r.refreshCookie() != nil {
			t.Error("a refused refresh touched the cookie")
		}
		c.me(s.access)
	})
}

func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.DBMaxIdleConns = 2 }))
	s := c.signup("Survivor")
	db := pgx.Identifier{c.app.dbName}.Sanitize()

	// Take the database away from under the running service.
	adminExec(t, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false")
	t.Cleanup(func() { adminExec(t, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true") })
	adminExec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", c.app.dbName)

	r := c.do(http.MethodGet, "/readyz", nil)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz during the outage: %d, Retry-After %q; want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"))
	}
	c.do(http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK) // the process still runs

	outage := []struct {
		name   string
		method string
		path   string
		body   any
		opts   []reqOpt
	}{
		{"signup", http.MethodPost, "/signup", credentials{Username: "Newcomer", Password: goodPassword}, nil},
		{"login", http.MethodPost, "/login", map[string]string{"username": "Survivor", "password": goodPassword}, nil},
		{"me", http.MethodGet, "/me", nil, []reqOpt{bearer(s.access)}},
		{"refresh", http.MethodPost, "/refresh", nil, []reqOpt{withCookie(s.refresh)}},
		{"patch", http.MethodPatch, "", map[string]any{"full_name": "Sur Vivor"}, []reqOpt{bearer(s.access)}},
	}
	for _, o := range outage {
		r := c.do(o.method, base+o.path, o.body, o.opts...)
		p := r.wantProblem(t, http.StatusServiceUnavailable)
		if p.Title == "" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without title or Retry-After", o.name)
		}
	}

	adminExec(t, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")
	eventually(t, 15*time.Second, "/readyz 200 after the database returned", func() bool {
		r, err := c.send(http.MethodGet, "/readyz", nil)
		return err == nil && r.Status == http.StatusOK
	})
	c.me(s.access) // the session survived the outage
	c.login("survivor", goodPassword)
	c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	c.signup("Newcomer") // the refused signup wrote nothing
}
