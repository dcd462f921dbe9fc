package bootstrap_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/chat"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/chatports"
	"example.com/usersvc/ports/userports"
)

// TestAdaptersSwapWithFxDecorate builds the real app with the memory stores
// in place of the SQL ones: the use cases and routes do not change, and
// nothing reaches the database.
func TestAdaptersSwapWithFxDecorate(t *testing.T) {
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.DataDir, cfg.RateLimits = "127.0.0.1:0", t.TempDir(), false
	cfg.Argon2MemoryKiB, cfg.Argon2Time = 8192, 1
	db := memory.NewDB()
	store, chats, outbox := memory.NewUserStore(db), memory.NewChatStore(db), memory.NewOutbox(db)
	var handler http.Handler
	app := fxtest.New(t, bootstrap.App(cfg, io.Discard),
		fx.Decorate(
			func(userports.Users) userports.Users { return store.Users() },
			func(userports.Sessions) userports.Sessions { return store.Sessions() },
			func(ports.Revocations) ports.Revocations { return store.Revocations() },
			func(chatports.Chats) chatports.Chats { return chats.Chats() },
			func(chatports.Messages) chatports.Messages { return chats.Messages() },
			func(ports.Transactor) ports.Transactor { return db.Transactor() },
			func(ports.Events) ports.Events { return outbox },
			func(ports.Outbox) ports.Outbox { return outbox },
		),
		fx.Populate(&handler),
	)
	app.RequireStart()
	t.Cleanup(app.RequireStop)

	serve := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	rec := serve(http.MethodPost, "/api/v1/users/signup", "", `{"username":"Memo","password":"Sup3r$ecret"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("signup on memory stores: %d %s", rec.Code, rec.Body)
	}
	name, _ := user.ParseUsername("memo")
	u, err := store.Users().ByUsername(t.Context(), name)
	if err != nil {
		t.Fatalf("the user is in the memory store: %v", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	if rec := serve(http.MethodPost, "/api/v1/chats", tok.AccessToken, `{"title":"In memory"}`); rec.Code != http.StatusCreated {
		t.Fatalf("a chat on memory stores: %d %s", rec.Code, rec.Body)
	}
	owner := uuid.UUID(u.ID())
	if page, err := chats.Chats().List(t.Context(), owner, chat.PageRequest{Limit: 10}); err != nil || len(page.Items) != 1 {
		t.Fatalf("the chat is in the memory store: %v, %v", page.Items, err)
	}
	if rec := serve(http.MethodDelete, "/api/v1/users", tok.AccessToken, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete on memory stores: %d %s", rec.Code, rec.Body)
	}
	if page, _ := chats.Chats().List(t.Context(), owner, chat.PageRequest{Limit: 10}); len(page.Items) != 0 {
		t.Fatal("the memory DB's cascade did not take the account's chats")
	}
	if rec := serve(http.MethodGet, "/api/v1/chats", tok.AccessToken, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the deleted account's token on memory stores: %d", rec.Code)
	}
	var types []string
	for _, e := range outbox.Events() {
		types = append(types, e.Type)
	}
	if want := []string{"user.created", "session.started", "session.revoked", "user.deleted"}; !slices.Equal(types, want) {
		t.Fatalf("events in the memory outbox: %v, want %v", types, want)
	}
}
