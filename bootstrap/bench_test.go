package bootstrap_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/bootstrap"
)

// benchApp starts the real app on databaseURL ("" = SQLite) and returns its
// handler and the access token of a fresh user.
func benchApp(b *testing.B, databaseURL string) (http.Handler, string) {
	b.Helper()
	handler, access, _ := benchAppWithCookie(b, databaseURL)
	return handler, access
}

// benchAppWithCookie is benchApp that also returns the refresh cookie.
func benchAppWithCookie(b *testing.B, databaseURL string) (http.Handler, string, *http.Cookie) {
	b.Helper()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.DataDir, cfg.DatabaseURL, cfg.RateLimits = "127.0.0.1:0", b.TempDir(), databaseURL, false
	var handler http.Handler
	app := fxtest.New(b, bootstrap.App(cfg, io.Discard), fx.Populate(&handler))
	app.RequireStart()
	b.Cleanup(app.RequireStop)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/users/signup", strings.NewReader(`{"username":"Bench","password":"Sup3r$ecret"}`))
	req.Header.Set("Content-Type", "application/json")
	handler.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &tok) != nil {
		b.Fatalf("signup: %d %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "refresh_token" {
			return handler, tok.AccessToken, c
		}
	}
	b.Fatal("signup set no refresh cookie")
	return nil, "", nil
}

// BenchmarkGetMe measures GET /api/v1/users/me through the whole router and
// middleware: JWT verification plus one query that loads the user and checks
// the session.
func BenchmarkGetMe(b *testing.B) {
	for _, db := range []struct{ name, url string }{{"sqlite", ""}, {"postgres", "pg"}} {
		b.Run(db.name, func(b *testing.B) {
			url := db.url
			if url == "pg" {
				url = sqltest.PostgresURL(b)
			}
			handler, access := benchApp(b, url)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, "/api/v1/users/me", nil)
					req.Header.Set("Authorization", "Bearer "+access)
					handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("me: %d", rec.Code)
					}
				}
			})
		})
	}
}

// BenchmarkRefresh measures POST /api/v1/users/refresh through the whole
// router: the refresh token's verification, the session's rotation (one
// UPDATE ... RETURNING) and the signing of both new tokens. One session
// chain, its cookie rotated every request.
func BenchmarkRefresh(b *testing.B) {
	for _, db := range []struct{ name, url string }{{"sqlite", ""}, {"postgres", "pg"}} {
		b.Run(db.name, func(b *testing.B) {
			url := db.url
			if url == "pg" {
				url = sqltest.PostgresURL(b)
			}
			handler, _, cookie := benchAppWithCookie(b, url)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, "/api/v1/users/refresh", nil)
				req.AddCookie(cookie)
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
				}
				for _, c := range rec.Result().Cookies() {
					if c.Name == cookie.Name {
						cookie = c
					}
				}
			}
		})
	}
}
