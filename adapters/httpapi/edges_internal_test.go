package httpapi

// Unit tests of the byte-level helpers behind the HTTP edge cases; the
// end-to-end tests are in bootstrap (http_edges_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestHasLoneSurrogate(t *testing.T) {
	cases := map[string]bool{
		`{"a": "plain"}`:                false,
		`{"a": "\ud83d\ude00"}`:         false, // a pair: U+1F600
		`{"a": "\uD83D\uDE00"}`:         false,
		`{"a": "\u00e9\u2028"}`:         false,
		`{"a": "\\ud800"}`:              false, // an escaped backslash, then text
		`{"a": "\\\ud83d\ude00"}`:       false,
		`{"a": "\ud800"}`:               true,
		`{"a": "\udfff"}`:               true, // a low half alone
		`{"a": "x\ud800y"}`:             true,
		`{"a": "\ud800\u0041"}`:         true, // a high half, then not a low half
		`{"a": "\ud800\ud800\udc00"}`:   true,
		`{"a": "\udc00\ud800"}`:         true, // the halves reversed
		`{"a": "\\\ud800"}`:             true,
		`{"\ud800": 1}`:                 true, // in a member name
		`{"a": ["x", {"b": "\udbff"}]}`: true,
		`{"a": "\ud83d\ude00\udfff"}`:   true,
		`{"a": "\"\ud800\""}`:           true,
	}
	for body, want := range cases {
		if got := hasLoneSurrogate([]byte(body)); got != want {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", body, got, want)
		}
	}
	if name, found := loneSurrogateMember([]byte(`{"ok": "\ud83d\ude00", "pass\udc00": "x", "later": "\ud800"}`)); !found || name != "pass\uFFFD" {
		t.Errorf("loneSurrogateMember = %q, %v; want the first member with one", name, found)
	}
}

func TestIdentityCoded(t *testing.T) {
	for values, want := range map[string]bool{"": true, "identity": true, "Identity, identity": true,
		"gzip": false, "identity, br": false, "x-compress": false} {
		var v []string
		if values != "" {
			v = []string{values}
		}
		if got := identityCoded(v); got != want {
			t.Errorf("identityCoded(%q) = %v, want %v", values, got, want)
		}
	}
}

func TestServerAnswerAsProblemLeavesHandlerResponsesAlone(t *testing.T) {
	// What net/http writes itself is replaced...
	own := "HTTP/1.1 501 Not Implemented" + serverErrorHeaders + "Unsupported transfer encoding"
	answer, ok := serverAnswerAsProblem([]byte(own))
	if !ok || !strings.HasPrefix(string(answer), "HTTP/1.1 400 Bad Request\r\n") || !strings.Contains(string(answer), "application/problem+json") {
		t.Errorf("net/http's 501 became %q", answer)
	}
	// ...what a handler answers never is, whatever its status and body.
	for _, p := range []string{
		"HTTP/1.1 400 Bad Request\r\nCache-Control: no-store\r\nContent-Type: application/problem+json\r\nX-Request-Id: x\r\n\r\n{}",
		"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n431",
		"HTTP/1.1 200 OK" + serverErrorHeaders + "ok",
		"HTTP/1.1 404 Not Found" + serverErrorHeaders + "line\r\nbreak",
		"HTTP/1.1 400 Bad Request" + serverErrorHeaders + strings.Repeat("x", 2000),
		`{"a": "HTTP/1.1 400 Bad Request` + serverErrorHeaders + `"}`,
	} {
		if _, ok := serverAnswerAsProblem([]byte(p)); ok {
			t.Errorf("rewrote %.80q", p)
		}
	}
}

func TestHeaderBlockSizeCountsAsTheWireDoes(t *testing.T) {
	r := &http.Request{Method: "GET", RequestURI: "/healthz", Proto: "HTTP/1.1", Host: "x",
		Header: http.Header{"X-Padding": {"ppp"}, "Cookie": {"a=1", "b=2"}}}
	wire := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ppp\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"
	if got := headerBlockSize(r); got != len(wire) {
		t.Errorf("headerBlockSize = %d, want %d", got, len(wire))
	}
}

// TestAClientThatWentAwayIsNoServerError: a request whose client cancelled
// it is answered 503 (nobody reads it) and logged at info, never as a 500
// "request failed".
func TestAClientThatWentAwayIsNoServerError(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	e := gin.New()
	e.Use(func(c *gin.Context) { c.Set(loggerKey, log); c.Next() })
	e.GET("/gone", handleWith(nil, func(c *gin.Context) error { return fmt.Errorf("query: %w", c.Request.Context().Err()) }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/gone", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "client went away") {
		t.Fatalf("logs: %s", logs.String())
	}
}
