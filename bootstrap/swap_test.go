package bootstrap_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// TestAdaptersSwapWithFxDecorate builds the real app with the memory stores
// in place of the SQL ones: the use cases and routes do not change, and
// nothing reaches the database.
func TestAdaptersSwapWithFxDecorate(t *testing.T) {
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.DataDir, cfg.RateLimits = "127.0.0.1:0", t.TempDir(), false
	cfg.Argon2MemoryKiB, cfg.Argon2Time = 8192, 1
	store := memory.NewStore()
	var handler http.Handler
	app := fxtest.New(t, bootstrap.App(cfg, io.Discard),
		fx.Decorate(
			func(ports.Users) ports.Users { return store.Users() },
			func(ports.Sessions) ports.Sessions { return store.Sessions() },
			func(ports.Transactor) ports.Transactor { return store.Transactor() },
		),
		fx.Populate(&handler),
	)
	app.RequireStart()
	t.Cleanup(app.RequireStop)

	body := `{"username":"Memo","password":"Sup3r$ecret"}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/users/signup", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("signup on memory stores: %d %s", rec.Code, rec.Body)
	}
	name, _ := user.ParseUsername("memo")
	if _, err := store.Users().ByUsername(t.Context(), name); err != nil {
		t.Fatalf("the user is in the memory store: %v", err)
	}
}
