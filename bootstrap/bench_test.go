package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
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
	handler, _ := startBenchApp(b, databaseURL)
	access, cookie := benchSignUp(b, handler, "Bench")
	return handler, access, cookie
}

// startBenchApp starts the real app on databaseURL ("" = SQLite) and returns
// its handler and its token issuer.
func startBenchApp(b *testing.B, databaseURL string) (http.Handler, *tokens.Issuer) {
	b.Helper()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.DataDir, cfg.DatabaseURL, cfg.RateLimits = "127.0.0.1:0", b.TempDir(), databaseURL, false
	var handler http.Handler
	var issuer *tokens.Issuer
	app := fxtest.New(b, bootstrap.App(cfg, io.Discard), fx.Populate(&handler, &issuer))
	app.RequireStart()
	b.Cleanup(app.RequireStop)
	return handler, issuer
}

// benchSignUp signs up username and returns its access token and refresh
// cookie.
func benchSignUp(b *testing.B, handler http.Handler, username string) (string, *http.Cookie) {
	b.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/users/signup", strings.NewReader(`{"username":"`+username+`","password":"Sup3r$ecret"}`))
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
			return tok.AccessToken, c
		}
	}
	b.Fatal("signup set no refresh cookie")
	return "", nil
}

// benchDatabases are the databases the end-to-end benchmarks run on; "pg"
// stands for the test PostgreSQL server.
var benchDatabases = []struct{ name, url string }{{"sqlite", ""}, {"postgres", "pg"}}

func benchURL(b *testing.B, url string) string {
	if url == "pg" {
		return sqltest.PostgresURL(b)
	}
	return url
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
			stop := startCPU(b)
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
			stop()
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
			stop := startCPU(b)
			for b.Loop() {
				cookie = benchRefresh(b, handler, cookie)
			}
			stop()
		})
	}
}

// BenchmarkGetMeFresh is BenchmarkGetMe with a token never presented before
// on every request (minted by the app's own issuer before the timer starts),
// so that each one takes the full JWT verification.
func BenchmarkGetMeFresh(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name, func(b *testing.B) {
			handler, issuer := startBenchApp(b, benchURL(b, db.url))
			access, _ := benchSignUp(b, handler, "Bench")
			claims, err := issuer.VerifyAccess(access)
			if err != nil {
				b.Fatal(err)
			}
			pool := make([]string, b.N)
			for i := range pool {
				if pool[i], err = issuer.IssueAccess(ports.AccessClaims{Principal: claims.Principal}); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			stop := startCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, "/api/v1/users/me", nil)
					req.Header.Set("Authorization", "Bearer "+pool[next.Add(1)-1])
					handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("me: %d", rec.Code)
					}
				}
			})
			stop()
		})
	}
}

// BenchmarkRefreshParallel is BenchmarkRefresh with 16 session chains per
// CPU (32 on two, as the load benchmark's connections; one user each),
// rotated concurrently, each by its own goroutine: the database's commit
// latency overlaps, so the figures and the profile show the service's own
// CPU.
func BenchmarkRefreshParallel(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name, func(b *testing.B) {
			handler, _ := startBenchApp(b, benchURL(b, db.url))
			const perCPU = 16
			chains := perCPU * runtime.GOMAXPROCS(0) // RunParallel's goroutines
			cookies := make([]*http.Cookie, chains)
			for i := range cookies {
				_, cookies[i] = benchSignUp(b, handler, fmt.Sprintf("Bench%02d", i))
			}
			var next atomic.Int64
			b.SetParallelism(perCPU)
			b.ReportAllocs()
			b.ResetTimer()
			stop := startCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				cookie := cookies[next.Add(1)-1] // a chain of its own: sharing would be reuse
				for pb.Next() {
					cookie = benchRefresh(b, handler, cookie)
				}
			})
			stop()
		})
	}
}

// BenchmarkLogIn measures POST /api/v1/users/login from 16 concurrent
// clients per CPU, each its own user, as the load benchmark's login
// workload: one argon2id hash (queued for the hashing slots), the session's
// start in one transaction and two signatures. cpu-ns/op against one hash
// alone (BenchmarkHash in adapters/passwords) is the overhead, GC included.
func BenchmarkLogIn(b *testing.B) {
	for _, db := range benchDatabases {
		b.Run(db.name, func(b *testing.B) {
			handler, _ := startBenchApp(b, benchURL(b, db.url))
			const perCPU = 16
			bodies := make([]string, perCPU*runtime.GOMAXPROCS(0))
			for i := range bodies {
				name := fmt.Sprintf("Bench%02d", i)
				benchSignUp(b, handler, name)
				bodies[i] = `{"username":"` + name + `","password":"Sup3r$ecret"}`
			}
			var next atomic.Int64
			b.SetParallelism(perCPU)
			b.ReportAllocs()
			b.ResetTimer()
			stop := startCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				body := bodies[next.Add(1)-1]
				for pb.Next() {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodPost, "/api/v1/users/login", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("login: %d %s", rec.Code, rec.Body)
					}
				}
			})
			stop()
		})
	}
}

// benchRefresh posts one refresh with cookie and returns the rotated cookie.
func benchRefresh(b *testing.B, handler http.Handler, cookie *http.Cookie) *http.Cookie {
	b.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/users/refresh", nil)
	req.AddCookie(cookie)
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookie.Name {
			return c
		}
	}
	return cookie
}
