package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/httpapi/apitest"
	"example.com/usersvc/application/chatapp"
	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// notInEngine are operations of the document that newEngine does not
// register. None today: newEngine registers every route set of the package.
// Keep this list short and say why each entry is here.
var notInEngine = []string{}

// testJWKS is a key set of the shape adapters/tokens publishes.
const testJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","alg":"EdDSA","use":"sig"}]}`

// newEngine builds the engine with every route set this package offers, as
// bootstrap does. Handlers that reach a use case must not be called: the use
// cases are nil. ready is the database ping of /readyz.
func newEngine(t *testing.T, ready func(context.Context) error) *gin.Engine {
	t.Helper()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := httpapi.NewMetrics(prometheus.NewRegistry())
	guard := httpapi.NewGuard(nil, httpapi.Limits{}, []string{"https://app.example.com"}, metrics)
	bearer := httpapi.NewBearer(nil, nil) // handlers behind it are never reached
	e, err := httpapi.NewEngine(httpapi.EngineSettings{}, discard, guard, metrics, []httpapi.Routes{
		httpapi.NewUserRoutes(&userapp.UseCases{}, bearer, user.ContractPolicy(nil), httpapi.CookieSettings{}, guard),
		httpapi.NewChatRoutes(&chatapp.UseCases{}, bearer, guard, ports.Limit{}),
		httpapi.NewOpsRoutes(httpapi.NewReadiness(ready), []byte(testJWKS)),
		httpapi.NewMetricsRoutes(metrics),
		httpapi.NewDocsRoutes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func pingOK(context.Context) error { return nil }

// newClient returns a client of srv whose traffic v validates.
func newClient(srv *httptest.Server, v *apitest.Validator) *http.Client {
	c := srv.Client()
	c.Transport = v.Transport(c.Transport)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	// Validate also checks every example against its schema.
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	var raw any
	if err := json.Unmarshal(httpapi.OpenAPIDocument(), &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for _, name := range []string{"bearerAuth", "refreshCookie"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("security scheme %s missing", name)
		}
	}
	if s := doc.Components.SecuritySchemes["refreshCookie"]; s != nil && (s.Value.In != "cookie" || s.Value.Name != "refresh_token") {
		t.Errorf("refreshCookie is %s %q, want the refresh_token cookie", s.Value.In, s.Value.Name)
	}
}

// TestOpenAPIRulesMatchDomain checks the document's field rules against the
// domain's parsers, which hold the rules.
func TestOpenAPIRulesMatchDomain(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }
	policy := user.ContractPolicy(nil)
	cases := []struct {
		schema string
		parse  func(string) error
		values []string
	}{
		{"Username", func(s string) error { _, err := user.ParseUsername(s); return err },
			[]string{"Alice42", "a", strings.Repeat("a", 50), strings.Repeat("a", 51), "", "alice smith", "élise", "bob_1", "x\x00"}},
		{"FullName", func(s string) error { _, err := user.ParseFullName(s); return err },
			[]string{"Anne-Marie", "José Núñez", "O'Brien", "O\u2019Brien", "Zoë", "e\u0301mile", "李小龙", "Ἀχιλλεύς",
				strings.Repeat("a", 100), strings.Repeat("a", 101), "", " Anne", "Anne ", "Anne  Marie", "Anne--Marie",
				"-Anne", "Anne-", "R2D2", "Anne.Marie", "\u0301e", "Anne- Marie", "'Anne"}},
		{"SessionName", func(s string) error { _, err := user.ParseSessionName(s); return err },
			// Length only: control characters and blank names are in the description.
			[]string{"Work laptop", "a", strings.Repeat("é", 64), strings.Repeat("é", 65), "", "💻"}},
		{"NewPassword", func(s string) error { _, err := policy.Parse(s); return err },
			// Length only: the classes are in the description, not the schema.
			[]string{"Aa1!aaaa", "Aa1!aaa", "Aa1!" + strings.Repeat("a", 21), "Aa1!" + strings.Repeat("a", 22), "Ää1!ääää"}},
	}
	for _, c := range cases {
		s := schema(c.schema)
		for _, v := range c.values {
			schemaErr := s.VisitJSON(v)
			domainErr := c.parse(v)
			if (schemaErr == nil) != (domainErr == nil) {
				t.Errorf("%s %q: schema says %v, domain says %v", c.schema, v, schemaErr, domainErr)
			}
		}
	}
}

// TestRoutesMatchDocument: every route registered in gin is an operation of
// the document or one of the aliases the document declares (its x-aliases
// path extension), and every operation and alias of the document is a route.
func TestRoutesMatchDocument(t *testing.T) {
	v := apitest.NewValidator(t, httpapi.OpenAPIDocument())
	param := regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)
	var registered []string
	for _, r := range newEngine(t, pingOK).Routes() {
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(registered)
	documented := slices.DeleteFunc(v.Routes(), func(r string) bool { return slices.Contains(notInEngine, r) })
	aliases := v.Aliases()
	if len(aliases) == 0 {
		t.Error("the document declares no aliases: the trailing-slash forms of PUT, PATCH and DELETE /api/v1/users are gone")
	}
	for alias, route := range aliases {
		if !slices.Contains(documented, route) {
			t.Errorf("alias %s stands for %s, which is not an operation of the document", alias, route)
		}
		documented = append(documented, alias)
	}
	slices.Sort(documented)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered in gin but not in the OpenAPI document", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("operation %s is in the OpenAPI document but not registered in gin", r)
		}
	}
	for _, r := range notInEngine {
		if !slices.Contains(v.Routes(), r) {
			t.Errorf("ignored route %s is not in the document: remove it from notInEngine", r)
		}
	}
}

func TestDocsRoutes(t *testing.T) {
	srv := httptest.NewServer(newEngine(t, pingOK))
	defer srv.Close()
	v := apitest.NewValidator(t, httpapi.OpenAPIDocument())
	client := newClient(srv, v)

	get := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	expect := func(resp *http.Response, status int, contentType string) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", resp.Request.URL.Path, resp.StatusCode, status)
		}
		if got := resp.Header.Get("Content-Type"); got != contentType {
			t.Errorf("%s: Content-Type %q, want %q", resp.Request.URL.Path, got, contentType)
		}
	}

	resp, body := get("/openapi.json")
	expect(resp, http.StatusOK, "application/json; charset=utf-8")
	if !bytes.Equal(body, httpapi.OpenAPIDocument()) {
		t.Error("/openapi.json differs from OpenAPIDocument()")
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := get("/openapi.json", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("/openapi.json with If-None-Match %s: status %d, want 304", etag, resp.StatusCode)
	}

	resp, body = get("/docs")
	expect(resp, http.StatusOK, "text/html; charset=utf-8")
	if got := resp.Header.Get("Content-Security-Policy"); got != httpapi.DocsCSP {
		t.Errorf("/docs CSP %q, want %q", got, httpapi.DocsCSP)
	}
	if bytes.Count(body, []byte("<script")) != bytes.Count(body, []byte(`<script src="/docs/assets/`)) ||
		bytes.Contains(body, []byte("http:")) || bytes.Contains(body, []byte("https:")) {
		t.Errorf("/docs has an inline script or an outside reference:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(body, -1)
	if len(refs) < 4 {
		t.Errorf("/docs references only %d files", len(refs))
	}
	for _, m := range refs {
		ref := string(m[1])
		if !strings.HasPrefix(ref, "/docs/assets/") && ref != "/openapi.json" {
			t.Errorf("/docs references %q, outside /docs/assets/", ref)
		}
	}

	for path, ct := range map[string]string{
		"/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"/docs/assets/docs.js":              "text/javascript; charset=utf-8",
		"/docs/assets/swagger-ui.css":       "text/css; charset=utf-8",
		"/docs/assets/docs.css":             "text/css; charset=utf-8",
		"/docs/assets/favicon-32x32.png":    "image/png",
	} {
		resp, body := get(path)
		expect(resp, http.StatusOK, ct)
		if len(body) == 0 {
			t.Errorf("%s is empty", path)
		}
	}
	resp, _ = get("/docs/assets/nothing.js", apitest.InvalidRequestHeader, "1")
	expect(resp, http.StatusNotFound, "application/problem+json")
}

// TestResponsesMatchDocument drives the operational routes, and the error
// paths of the user routes that need no use case, through the validator, so
// their bodies, status codes and headers are checked against the document.
func TestResponsesMatchDocument(t *testing.T) {
	down := errors.New("database down")
	srv := httptest.NewServer(newEngine(t, func(context.Context) error { return down }))
	defer srv.Close()
	v := apitest.NewValidator(t, httpapi.OpenAPIDocument())
	client := newClient(srv, v)
	base := srv.URL + httpapi.BasePath

	cases := []struct {
		name, method, url, contentType, body string
		invalid                              bool
		status                               int
	}{
		{"healthz", "GET", srv.URL + "/healthz", "", "", false, 200},
		{"readyz, database down", "GET", srv.URL + "/readyz", "", "", false, 503},
		{"jwks", "GET", srv.URL + "/.well-known/jwks.json", "", "", false, 200},
		{"metrics", "GET", srv.URL + "/metrics", "", "", false, 200},
		{"bad JSON", "POST", base + "/signup", "application/json", `{"username":`, true, 400},
		{"not an object", "POST", base + "/login", "application/json", `[]`, true, 400},
		{"wrong type", "POST", base + "/signup", "application/json", `{"username":1,"password":"Aa1!aaaa"}`, true, 400},
		{"not JSON", "POST", base + "/signup", "text/plain", `username=a`, true, 415},
		{"too large", "POST", base + "/signup", "application/json", `{"username":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, true, 413},
		{"unknown field", "POST", base + "/signup", "application/json", `{"username":"alice","password":"Aa1!aaaa","usernmae":"x"}`, true, 422},
		{"missing field", "POST", base + "/login", "application/json", `{"username":"alice"}`, true, 422},
		{"weak password", "POST", base + "/signup", "application/json", `{"username":"alice","password":"aaaaaaaa"}`, false, 422},
		{"no bearer", "GET", base + "/me", "", "", false, 401},
		{"no bearer, no slash", "DELETE", base, "", "", false, 401},
		{"no bearer on the session list", "GET", base + "/me/sessions", "", "", false, 401},
		{"no bearer on a session", "DELETE", base + "/me/sessions/01937a9f-2b3c-7d4e-8f5a-6b7c8d9e0f1a", "", "", false, 401},
		{"no refresh cookie", "POST", base + "/refresh", "", "", false, 401},
		{"no refresh cookie on logout", "POST", base + "/logout", "", "", false, 401},
		{"unknown route", "GET", base + "/nothing", "", "", true, 404},
		{"trailing slash", "GET", base + "/me/", "", "", true, 404},
		{"wrong method", "GET", base + "/signup", "", "", true, 405},
		{"no slash form of a slash-only route", "POST", base, "", "", true, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, c.url, body)
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.invalid {
				apitest.MarkInvalid(req)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}

	for _, c := range []struct {
		name, method, path, origin string
		status                     int
	}{
		{"refresh from a foreign origin", "POST", "/refresh", "https://evil.example", 403},
		{"logout from a foreign origin", "POST", "/logout", "https://evil.example", 403},
		{"refresh from a listed origin", "POST", "/refresh", "https://app.example.com", 401},
		{"preflight of a listed origin", "OPTIONS", "/signup", "https://app.example.com", 204},
		{"preflight of a foreign origin", "OPTIONS", "/signup", "https://evil.example", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, base+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", c.origin)
			if c.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
		})
	}
}

// docsPageOrder is the order in which the docs page must show the tags and,
// within each tag, the operations: the order a new user meets them.
var docsPageOrder = []struct {
	tag        string
	operations []string
}{
	{"users", []string{"signUp", "logIn", "refresh", "getMe", "replaceProfile", "updateProfile", "deleteAccount", "logOut"}},
	{"sessions", []string{"listSessions", "renameSession", "revokeSession", "revokeOtherSessions"}},
	{"chats", []string{"createChat", "listChats", "getChat", "renameChat", "deleteChat", "postMessage", "listMessages"}},
	{"operations", []string{"healthz", "readyz", "jwks", "metrics"}},
	{"docs", []string{"openapi", "docs", "docsAsset"}},
}

// TestDocumentTagOrder: the document's tags come in the page's order, each
// tag's x-operations list (which docs.js sorts the page by) names exactly the
// operations of that tag in that order, and every operation has one tag.
func TestDocumentTagOrder(t *testing.T) {
	var doc struct {
		Tags []struct {
			Name       string   `json:"name"`
			Operations []string `json:"x-operations"`
		} `json:"tags"`
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	tagged := map[string][]string{}
	for _, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				ID   string   `json:"operationId"`
				Tags []string `json:"tags"`
			}
			if method == "parameters" || strings.HasPrefix(method, "x-") {
				continue
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			if len(op.Tags) != 1 {
				t.Errorf("operation %s has tags %q, want exactly one", op.ID, op.Tags)
			}
			for _, tag := range op.Tags {
				tagged[tag] = append(tagged[tag], op.ID)
			}
		}
	}
	if len(doc.Tags) != len(docsPageOrder) {
		t.Errorf("the document has %d tags, the page order %d", len(doc.Tags), len(docsPageOrder))
	}
	for i, tag := range doc.Tags {
		if i < len(docsPageOrder) && (tag.Name != docsPageOrder[i].tag || !slices.Equal(tag.Operations, docsPageOrder[i].operations)) {
			t.Errorf("tag %d is %s listing %q, want %s listing %q", i, tag.Name, tag.Operations, docsPageOrder[i].tag, docsPageOrder[i].operations)
		}
		got := slices.Sorted(slices.Values(tagged[tag.Name]))
		if want := slices.Sorted(slices.Values(tag.Operations)); !slices.Equal(got, want) {
			t.Errorf("tag %s lists %q in x-operations, its operations are %q", tag.Name, want, got)
		}
	}
}

// TestDocsPageInBrowser opens /docs in headless Chromium: the page must
// render every operation of the document once, grouped by tag in the order
// of docsPageOrder, with no console error, and "try it out" must reach this
// origin with the body, the cookie and the access token (sign up, then GET
// /me with the token the page took from the answer, then refresh with the
// cookie the browser kept).
func TestDocsPageInBrowser(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install Debian's chromium package (%v)", chromium, err)
		}
		t.Skipf("%s is missing; install Debian's chromium package to run this test", chromium)
	}

	fake := &fakeUsers{}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := httpapi.NewMetrics(prometheus.NewRegistry())
	guard := httpapi.NewGuard(nil, httpapi.Limits{}, nil, metrics)
	engine, err := httpapi.NewEngine(httpapi.EngineSettings{}, discard, guard, metrics, []httpapi.Routes{httpapi.NewDocsRoutes(), fake})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(engine)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless, // --headless
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	defer cancelAlloc()

	var mu sync.Mutex
	var consoleErrors []string
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		// Runs in the tab's event loop: record and return.
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ex := ev.ExceptionDetails.Exception; ex != nil {
				msg += " " + ex.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			msg = "console.error:"
			for _, arg := range ev.Args {
				msg += " " + string(arg.Value) + arg.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level != log.EntryLevelError {
				return
			}
			msg = fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		mu.Lock()
		consoleErrors = append(consoleErrors, msg)
		mu.Unlock()
	}))
	defer cancelBrowser()
	fail := func(format string, args ...any) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf(format+" (console errors so far: %q)", append(args, consoleErrors)...)
	}

	if err := chromedp.Do(browserCtx,
		chromedp.Navigate(srv.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`[data-path="/api/v1/users/signup"]`)),
	); err != nil {
		fail("opening /docs: %v", err)
	}
	rendered, err := chromedp.Run(browserCtx, chromedp.Evaluate[int](`document.querySelectorAll(".opblock").length`))
	if err != nil {
		fail("counting operations: %v", err)
	}
	// Swagger UI shows problems of the document (a $ref it cannot resolve, a
	// schema it cannot read) in an errors panel, not on the console.
	panel, err := chromedp.Run(browserCtx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll(".errors-wrapper")).map(e => e.innerText).join("\n")`))
	if err != nil {
		fail("reading the errors panel: %v", err)
	}
	if panel != "" {
		t.Errorf("the page shows errors of the document:\n%s", panel)
	}
	operations := len(apitest.NewValidator(t, httpapi.OpenAPIDocument()).Routes())
	// Swagger UI gives each operation the id operations-TAG-OPERATIONID.
	type section struct {
		Tag        string   `json:"tag"`
		Operations []string `json:"operations"`
	}
	sections, err := chromedp.Run(browserCtx, chromedp.Evaluate[[]section](`
		Array.from(document.querySelectorAll(".opblock-tag-section")).map(s => {
			const tag = s.querySelector(".opblock-tag").getAttribute("data-tag");
			return {tag, operations: Array.from(s.querySelectorAll(".opblock")).map(o => o.id.replace("operations-" + tag + "-", ""))};
		})`))
	if err != nil {
		fail("reading the tags and operations: %v", err)
	}
	seen := map[string]bool{}
	for _, s := range sections {
		for _, op := range s.Operations {
			if seen[op] {
				t.Errorf("the page shows operation %s twice", op)
			}
			seen[op] = true
		}
	}
	var want []section
	for _, o := range docsPageOrder {
		want = append(want, section{o.tag, o.operations})
	}
	if fmt.Sprint(sections) != fmt.Sprint(want) {
		t.Errorf("the page shows tags and operations\n%v\nwant\n%v", sections, want)
	}

	// tryOut expands an operation, executes it as the page prefills it and
	// returns the status the page shows.
	tryOut := func(operationID string) string {
		t.Helper()
		in := func(sel string) chromedp.CSS { return chromedp.CSS("#operations-users-" + operationID + " " + sel) }
		status := in(".live-responses-table tr.response .response-col_status")
		if err := chromedp.Do(browserCtx,
			chromedp.Click(in(".opblock-summary-control")),
			chromedp.WaitVisible(in("button.execute")),
			chromedp.Click(in("button.execute")),
			chromedp.WaitVisible(status),
		); err != nil {
			fail("trying out %s: %v", operationID, err)
		}
		text, err := chromedp.Run(browserCtx, chromedp.Text(status))
		if err != nil {
			fail("reading the status of %s: %v", operationID, err)
		}
		return strings.TrimSpace(text)
	}
	signUpStatus := tryOut("signUp")
	meStatus := tryOut("getMe")
	refreshStatus := tryOut("refresh")

	if rendered != operations {
		t.Errorf("page rendered %d operations, the document has %d", rendered, operations)
	}
	for name, c := range map[string]struct{ got, want string }{
		"sign-up": {signUpStatus, "201"}, "GET /me": {meStatus, "200"}, "refresh": {refreshStatus, "200"},
	} {
		if c.got != c.want {
			t.Errorf("try it out, %s: the page shows status %q, want %s", name, c.got, c.want)
		}
	}
	if err := fake.err(); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range consoleErrors {
		t.Errorf("browser console: %s", e)
	}
}

// fakeUsers stands in for the user routes in the browser test: sign-up
// answers a fixed token and cookie, GET /me and refresh answer 200 only
// when the page sent that token or that cookie.
type fakeUsers struct {
	mu       sync.Mutex
	problems []string
}

const (
	fakeAccessToken  = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
	fakeRefreshToken = "refresh.token.value"
)

func (f *fakeUsers) fail(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeUsers) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.problems) == 0 {
		return nil
	}
	return fmt.Errorf("the page's requests: %s", strings.Join(f.problems, "; "))
}

func (f *fakeUsers) Register(r gin.IRouter) {
	token := gin.H{"access_token": fakeAccessToken, "token_type": "bearer", "expires_in": 900}
	setCookie := func(c *gin.Context) {
		http.SetCookie(c.Writer, &http.Cookie{Name: "refresh_token", Value: fakeRefreshToken, Path: httpapi.BasePath,
			MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	r.POST(httpapi.BasePath+"/signup", func(c *gin.Context) {
		var body map[string]any
		if c.ContentType() != "application/json" || c.ShouldBindJSON(&body) != nil || body["username"] == nil {
			f.fail("sign-up sent %q with body %v", c.ContentType(), body)
		}
		setCookie(c)
		c.JSON(http.StatusCreated, token)
	})
	r.GET(httpapi.BasePath+"/me", func(c *gin.Context) {
		if got := c.GetHeader("Authorization"); got != "Bearer "+fakeAccessToken {
			f.fail("GET /me sent Authorization %q, want the token of the sign-up answer", got)
		}
		c.JSON(http.StatusOK, gin.H{"id": "01937a9e-6c1b-7c3e-9d2a-5b8f4e2a1c00", "username": "Alice42", "full_name": nil,
			"created_at": "2026-11-25T20:00:00Z", "updated_at": "2026-11-25T20:00:00Z"})
	})
	r.POST(httpapi.BasePath+"/refresh", func(c *gin.Context) {
		if got, _ := c.Cookie("refresh_token"); got != fakeRefreshToken {
			f.fail("refresh sent cookie %q, want the cookie of the sign-up answer", got)
		}
		setCookie(c)
		c.JSON(http.StatusOK, token)
	})
}
