package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.uber.org/fx"

	"example.com/usersvc/bootstrap"
)

// browserSite is the site the browser test's origins share. The names under
// it are mapped to loopback inside Chromium (--host-resolver-rules), so no
// resolver outside the browser is involved. It must be a registrable domain
// of the public suffix list: Chromium treats every name under localhost (or
// another unlisted suffix) as a site of its own, so app.localhost and
// api.localhost are cross-site and a SameSite=Strict cookie is never sent
// between them.
const browserSite = "example.com"

// browserPage is the single-page app of the browser test. It keeps the
// access token in memory only, as the contract advises, so a reload loses
// it and only the HttpOnly refresh cookie is left to get a new one. Every
// call answers {status, body} or {error} when the browser gave the page no
// answer (a CORS refusal). API is filled in by the test.
const browserPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>app</title></head>
<body><p>browser test app</p>
<script>
"use strict";
const API = %s;
let accessToken = null;
async function call(method, path, body) {
  const headers = {};
  if (accessToken) headers["Authorization"] = "Bearer " + accessToken;
  const init = {method, headers, credentials: "include"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    return {error: String(e)};
  }
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) {}
  if (res.ok && json && typeof json.access_token === "string") accessToken = json.access_token;
  if (res.status === 204 && path === "/logout") accessToken = null;
  return {status: res.status, body: json};
}
window.app = {
  signUp: (username, password) => call("POST", "/signup", {username, password}),
  logIn: (username, password) => call("POST", "/login", {username, password}),
  me: () => call("GET", "/me"),
  refresh: () => call("POST", "/refresh"),
  logOut: () => call("POST", "/logout"),
  token: () => accessToken,
};
</script></body></html>
`

// pageResult is what a call of browserPage answers.
type pageResult struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
	Error  string         `json:"error"`
}

// seenRequest is one request as the service received it, recorded by the
// test's wrapper of the service's handler.
type seenRequest struct {
	method, path, origin string
	cookie               bool // the refresh cookie came with it
	status               int
}

// requestLog records the requests that reach the service.
type requestLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (l *requestLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		_, err := r.Cookie("refresh_token")
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seen = append(l.seen, seenRequest{r.Method, r.URL.Path, r.Header.Get("Origin"), err == nil, sw.status})
	})
}

// from returns the requests so far whose Origin is origin.
func (l *requestLog) from(origin string) []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []seenRequest
	for _, s := range l.seen {
		if s.origin == origin {
			out = append(out, s)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// TestCookieFlowInBrowser drives the refresh cookie through headless
// Chromium, on each database. A page served by the test on
// http://app.example.com:P (listed in CORS_ORIGINS) calls the fx-built
// service on http://api.example.com:Q (another origin of the same site) with
// fetch(..., {credentials: "include"}); COOKIE_SECURE=false, as the origins
// are plain http. The steps, each asserted from what the page's fetch got:
//
//  1. sign up: 201 with an access token; the browser keeps the refresh
//     cookie (HttpOnly, SameSite=Strict, host-only on api, path BASE);
//  2. GET /me with that access token: 200, the new user;
//  3. log in: 200 with a new access token, and a new refresh cookie;
//  4. GET /me with the log-in's token: 200;
//  5. reload the page: the access token, kept in memory only, is gone, and
//     GET /me without it gets 401;
//  6. refresh with the cookie alone: 200, a new access token and a rotated
//     cookie; GET /me with it: 200;
//  7. document.cookie never shows the refresh token: not on the app's
//     origin, not on the service's own origin under BASE, not on the
//     unlisted origin;
//  8. a page on http://evil.example.com:P, same site but not listed, is
//     refused: its cookie-bearing refresh and logout reach the service with
//     the cookie (SameSite does not stop them) and get 403 from the Origin
//     check, and the browser gives the page no answer (no CORS headers);
//     its JSON log-in is stopped at the preflight (403) and never sent;
//  9. back on the app, refresh still works (the refused requests ended
//     nothing) and the new token reads /me;
//  10. log out: 204 and the browser drops the cookie; refresh then gets 401,
//     and the last access token gets 401 on /me (revoked at once).
func TestCookieFlowInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	onEachDatabase(t, func(t *testing.T, db option) {
		// The page's server listens first (it starts serving once its
		// handler knows the service's address), so CORS_ORIGINS can name
		// its port.
		pages := httptest.NewUnstartedServer(nil)
		defer pages.Close()
		_, pagePort, err := net.SplitHostPort(pages.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		appOrigin := "http://app." + browserSite + ":" + pagePort
		evilOrigin := "http://evil." + browserSite + ":" + pagePort

		var requests requestLog
		c := newApp(t, db,
			withConfig(func(cfg *bootstrap.Config) {
				cfg.CORSOrigins = []string{appOrigin}
				cfg.CookieSecure = false
			}),
			withFx(fx.Decorate(requests.wrap)),
		)
		u, err := url.Parse(c.app.url)
		if err != nil {
			t.Fatal(err)
		}
		apiOrigin := "http://api." + browserSite + ":" + u.Port()
		api, err := json.Marshal(apiOrigin + base)
		if err != nil {
			t.Fatal(err)
		}
		pages.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, browserPage, api)
		})
		pages.Start()

		ctx := newBrowser(t, chromium)
		b := &browserSession{t: t, ctx: ctx, app: c.app}
		username := "Walrus" + db0(t)

		// 1-2: sign up, read /me.
		b.open(appOrigin + "/")
		r := b.call(`app.signUp(%q, %q)`, username, goodPassword)
		b.want("sign-up", r, http.StatusCreated)
		signUpCookie := b.refreshCookie(apiOrigin)
		if signUpCookie == nil {
			t.Fatal("after sign-up the browser holds no refresh_token cookie for the service")
		}
		if !signUpCookie.HTTPOnly || signUpCookie.SameSite != network.CookieSameSiteStrict || signUpCookie.Path != base ||
			signUpCookie.Domain != "api."+browserSite || signUpCookie.Secure {
			t.Errorf("refresh cookie: HttpOnly %v, SameSite %s, Path %q, Domain %q, Secure %v; want HttpOnly, Strict, %s, host-only api.%s, not Secure (COOKIE_SECURE=false)",
				signUpCookie.HTTPOnly, signUpCookie.SameSite, signUpCookie.Path, signUpCookie.Domain, signUpCookie.Secure, base, browserSite)
		}
		r = b.call(`app.me()`)
		b.want("GET /me after sign-up", r, http.StatusOK)
		if r.Body["username"] != username {
			t.Errorf("GET /me after sign-up: username %v, want %s", r.Body["username"], username)
		}

		// 3-4: log in, read /me.
		r = b.call(`app.logIn(%q, %q)`, strings.ToLower(username), goodPassword)
		b.want("log-in", r, http.StatusOK)
		logInCookie := b.refreshCookie(apiOrigin)
		if logInCookie == nil || logInCookie.Value == signUpCookie.Value {
			t.Error("log-in left the browser without a new refresh cookie")
		}
		b.want("GET /me after log-in", b.call(`app.me()`), http.StatusOK)
		b.noRefreshTokenIn("the app's document.cookie", b.documentCookie())

		// 5-6: reload, refresh with the cookie alone, read /me.
		if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitReady("body")); err != nil {
			t.Fatalf("reloading the app: %v", err)
		}
		if tok := b.eval(`app.token()`); string(tok) != "null" {
			t.Fatalf("after a reload the page still holds an access token: %s", tok)
		}
		b.want("GET /me after the reload, without a token", b.call(`app.me()`), http.StatusUnauthorized)
		r = b.call(`app.refresh()`)
		b.want("refresh after the reload", r, http.StatusOK)
		if rotated := b.refreshCookie(apiOrigin); rotated == nil || logInCookie == nil || rotated.Value == logInCookie.Value {
			t.Error("refresh did not rotate the browser's refresh cookie")
		}
		b.want("GET /me after the refresh", b.call(`app.me()`), http.StatusOK)

		// 7: document.cookie, on each origin.
		b.noRefreshTokenIn("the app's document.cookie after the refresh", b.documentCookie())
		b.open(apiOrigin + base + "/me")
		b.noRefreshTokenIn("the service's own document.cookie under "+base, b.documentCookie())

		// 8: the unlisted origin of the same site.
		b.open(evilOrigin + "/")
		b.noRefreshTokenIn("the unlisted origin's document.cookie", b.documentCookie())
		for _, call := range []string{`app.refresh()`, `app.logOut()`, `app.logIn("` + username + `", "` + goodPassword + `")`} {
			if r := b.call("%s", call); r.Error == "" {
				t.Errorf("%s on the unlisted origin: the page got status %d, want no answer (a CORS refusal)", call, r.Status)
			}
		}
		var evil []string
		for _, s := range requests.from(evilOrigin) {
			evil = append(evil, fmt.Sprintf("%s %s cookie=%v -> %d", s.method, s.path, s.cookie, s.status))
		}
		want := []string{
			"POST " + base + "/refresh cookie=true -> 403",
			"POST " + base + "/logout cookie=true -> 403",
			"OPTIONS " + base + "/login cookie=false -> 403",
		}
		if strings.Join(evil, "\n") != strings.Join(want, "\n") {
			t.Errorf("the service saw from the unlisted origin\n%s\nwant\n%s", strings.Join(evil, "\n"), strings.Join(want, "\n"))
		}

		// 9: the session lives on.
		b.open(appOrigin + "/")
		b.want("refresh after the unlisted origin's attempts", b.call(`app.refresh()`), http.StatusOK)
		lastToken := string(b.eval(`app.token()`))
		b.want("GET /me after the unlisted origin's attempts", b.call(`app.me()`), http.StatusOK)

		// 10: log out; refresh and the last access token fail.
		b.want("log-out", b.call(`app.logOut()`), http.StatusNoContent)
		if left := b.refreshCookie(apiOrigin); left != nil {
			t.Errorf("after log-out the browser still holds a refresh cookie (path %s)", left.Path)
		}
		r = b.call(`app.refresh()`)
		b.want("refresh after log-out", r, http.StatusUnauthorized)
		if r.Body["type"] == nil || r.Body["status"] != float64(http.StatusUnauthorized) {
			t.Errorf("refresh after log-out: body %v, want a 401 problem document", r.Body)
		}
		b.call(`(() => { accessToken = %s; return {status: 0}; })()`, lastToken)
		b.want("GET /me with the token of the ended session", b.call(`app.me()`), http.StatusUnauthorized)
	})
}

// db0 names the running subtest's database, for distinct usernames.
func db0(t *testing.T) string { return t.Name()[strings.LastIndex(t.Name(), "/")+1:] }

// chromiumPath returns Debian's Chromium, skipping the test without it
// unless CI is "true".
func chromiumPath(t *testing.T) string {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install Debian's chromium package (%v)", chromium, err)
		}
		t.Skipf("%s is missing; install Debian's chromium package to run this test", chromium)
	}
	return chromium
}

// newBrowser starts headless Chromium with a fresh profile for t, every name
// under browserSite resolving to loopback, and returns its tab.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("host-resolver-rules", "MAP *."+browserSite+" 127.0.0.1"),
		// Plain http is the point here: no automatic upgrade to https.
		chromedp.Flag("disable-features", "HttpsUpgrades"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return browserCtx
}

// browserSession drives one tab for a test.
type browserSession struct {
	t   *testing.T
	ctx context.Context
	app *app
}

func (b *browserSession) open(u string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(u), chromedp.WaitReady("body")); err != nil {
		b.t.Fatalf("opening %s: %v", u, err)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise, and returns
// its value as JSON.
func (b *browserSession) eval(expr string) json.RawMessage {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// call evaluates a call of the page's app (format and args as fmt.Sprintf)
// and returns what the page got. The access token it hands out is kept as a
// secret the service must not log.
func (b *browserSession) call(format string, args ...any) pageResult {
	b.t.Helper()
	expr := fmt.Sprintf(format, args...)
	var r pageResult
	if err := json.Unmarshal(b.eval(expr), &r); err != nil {
		b.t.Fatalf("%s: the page answered no result: %v", expr, err)
	}
	if tok, ok := r.Body["access_token"].(string); ok {
		b.app.mu.Lock()
		b.app.secrets = append(b.app.secrets, tok)
		b.app.mu.Unlock()
	}
	return r
}

// want fails unless the page got status.
func (b *browserSession) want(step string, r pageResult, status int) {
	b.t.Helper()
	if r.Error != "" {
		b.t.Fatalf("%s: the page got no answer: %s", step, r.Error)
	}
	if r.Status != status {
		b.t.Fatalf("%s: the page got status %d, want %d (body %v)", step, r.Status, status, r.Body)
	}
}

// documentCookie is what the open page's script sees of its cookies.
func (b *browserSession) documentCookie() string {
	b.t.Helper()
	var s string
	if err := json.Unmarshal(b.eval(`document.cookie`), &s); err != nil {
		b.t.Fatal(err)
	}
	return s
}

// noRefreshTokenIn fails when cookies, as a script read them, show the
// refresh token by name or by any value the browser holds or held.
func (b *browserSession) noRefreshTokenIn(where, cookies string) {
	b.t.Helper()
	if strings.Contains(cookies, "refresh_token") {
		b.t.Errorf("%s shows the refresh token: %q", where, cookies)
	}
	b.app.mu.Lock()
	defer b.app.mu.Unlock()
	for _, s := range b.app.secrets {
		if strings.Contains(cookies, s) {
			b.t.Errorf("%s shows a token", where)
		}
	}
}

// refreshCookie returns the refresh_token cookie the browser holds for
// origin, read through the DevTools protocol (which sees HttpOnly cookies),
// or nil. Its value is kept as a secret the service must not log.
func (b *browserSession) refreshCookie(origin string) *network.Cookie {
	b.t.Helper()
	u, err := url.Parse(origin)
	if err != nil {
		b.t.Fatal(err)
	}
	// Network.getCookies with a URL answers the cookies the browser would
	// send there, HttpOnly ones included.
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{origin + base + "/refresh"}})
	})
	if err != nil {
		b.t.Fatalf("reading the browser's cookies: %v", err)
	}
	cookies := res.Cookies
	for _, c := range cookies {
		if c.Name == "refresh_token" && c.Domain == u.Hostname() {
			b.app.mu.Lock()
			b.app.secrets = append(b.app.secrets, c.Value)
			b.app.mu.Unlock()
			return c
		}
	}
	return nil
}
