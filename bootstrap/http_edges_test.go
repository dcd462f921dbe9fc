package bootstrap_test

// Edges of HTTP itself: hostile encodings of request bodies (through the
// fx-built app), and what the real net/http server does with oversize
// headers, malformed requests, Expect: 100-continue and keep-alive during a
// drain (through the real binary, whose http.Server httptest does not use).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/httpapi/apitest"
)

func TestLoneSurrogateEscapesAre400NamingTheField(t *testing.T) {
	c := newApp(t)
	s := c.signup("Unicoder")
	before := c.me(s.access)
	// Before the fix both decoded to "Aa1bcdef\uFFFD": one stored secret.
	for _, escape := range []string{`\ud800`, `\udfff`, `\uDBFF`, `\ud800\u0041`, `\udc00\ud800`} {
		t.Run(escape, func(t *testing.T) {
			c := c.with(t)
			password := `"Aa1bcdef` + escape + `"`
			bodies := []struct {
				method, path, body string
				opts               []reqOpt
			}{
				{http.MethodPost, base + "/signup", `{"username": "surrogate1", "password": ` + password + `}`, nil},
				{http.MethodPost, base + "/login", `{"username": "Unicoder", "password": ` + password + `}`, nil},
				{http.MethodPut, base, `{"username": "Unicoder", "password": ` + password + `, "current_password": "` + goodPassword + `"}`, []reqOpt{bearer(s.access)}},
				{http.MethodPatch, base, `{"password": ` + password + `, "current_password": "` + goodPassword + `"}`, []reqOpt{bearer(s.access)}},
			}
			for _, b := range bodies {
				p := c.do(b.method, b.path, b.body, append(b.opts, malformed())...).wantProblem(t, http.StatusBadRequest)
				if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
					t.Errorf("%s %s: errors %+v, want one naming password", b.method, b.path, p.Errors)
				}
			}
		})
	}
	t.Run("in a member name", func(t *testing.T) {
		body := `{"username": "surrogate2", "password": "` + goodPassword + `", "full\udc00name": "Ann"}`
		p := c.with(t).do(http.MethodPost, base+"/signup", body, malformed()).wantProblem(t, http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != "full\uFFFDname" {
			t.Errorf("errors %+v, want one naming the member", p.Errors)
		}
	})
	t.Run("in a later duplicate member", func(t *testing.T) {
		body := `{"username": "surrogate3", "password": "Aa1bcdef\ud800", "password": "` + goodPassword + `"}`
		c.with(t).do(http.MethodPost, base+"/signup", body, malformed()).wantProblem(t, http.StatusBadRequest)
	})
	t.Run("a valid pair and an escaped backslash pass", func(t *testing.T) {
		c := c.with(t)
		// "\ud83d\ude00" is one character, U+1F600; "\\ud800" is a backslash and "ud800".
		c.do(http.MethodPost, base+"/login", `{"username": "Unicoder", "password": "Aa1b\ud83d\ude00"}`).wantProblem(t, http.StatusUnauthorized)
		c.do(http.MethodPost, base+"/login", `{"username": "Unicoder", "password": "Aa1b\\ud800"}`).wantProblem(t, http.StatusUnauthorized)
		c.do(http.MethodPost, base+"/signup", `{"username": "surrogate4", "password": "Aa1b!\ud83d\ude00cdef"}`).wantTokens(t, http.StatusCreated)
	})
	c.wantNothingWritten("surrogate1")
	c.wantNothingWritten("surrogate2")
	c.wantNothingWritten("surrogate3")
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("a refused update was stored: %v → %v", before, after)
	}
}

// boundedProblem is a problem document with the count of left-out errors.
type boundedProblem struct {
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	ErrorsOmitted int `json:"errors_omitted"`
}

func TestProblemErrorsAreBoundedSoAnAnswerStaysSmall(t *testing.T) {
	c := newApp(t)
	t.Run("6,200 unknown keys", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 6200 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%04d":1`, i)
		}
		b.WriteString("}")
		body := b.String()
		r := c.with(t).do(http.MethodPost, base+"/signup", body, malformed())
		r.wantProblem(t, http.StatusUnprocessableEntity)
		var p boundedProblem
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		// 6,200 unknown keys and the two missing required fields.
		if len(p.Errors) != 20 || p.ErrorsOmitted != 6202-20 {
			t.Errorf("%d errors and errors_omitted %d, want 20 and %d", len(p.Errors), p.ErrorsOmitted, 6202-20)
		}
		if len(r.Body) > len(body)/10 {
			t.Errorf("a %d-byte request got a %d-byte answer", len(body), len(r.Body))
		}
		t.Logf("request %d bytes, answer %d bytes", len(body), len(r.Body))
	})
	t.Run("an empty member name", func(t *testing.T) {
		r := c.with(t).do(http.MethodPost, base+"/login", `{"": 1, "username": "a", "password": "x"}`, malformed())
		if p := r.wantProblem(t, http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Field != "" {
			t.Errorf("errors %+v, want one naming the empty member", p.Errors)
		}
	})
	t.Run("huge unknown keys of characters JSON escapes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 30 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"%d%s":1`, i, strings.Repeat("<", 2000))
		}
		b.WriteString("}")
		body := b.String()
		r := c.with(t).do(http.MethodPost, base+"/login", body, malformed())
		r.wantProblem(t, http.StatusUnprocessableEntity)
		var p boundedProblem
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Errors {
			if len(e.Field) > 100+len("…") || !strings.HasSuffix(e.Field, "…") {
				t.Errorf("field name of %d bytes echoed: %.40q", len(e.Field), e.Field)
			}
		}
		if len(r.Body) > len(body) {
			t.Errorf("a %d-byte request got a %d-byte answer", len(body), len(r.Body))
		}
	})
}

// gzipped compresses s.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestContentCodedBodiesAre415(t *testing.T) {
	c := newApp(t)
	s := c.signup("Squeezer")
	before := c.me(s.access)
	signup := `{"username": "coded415", "password": "` + goodPassword + `"}`
	login := `{"username": "Squeezer", "password": "` + goodPassword + `"}`
	replace := `{"username": "Coded415", "password": "` + goodPassword + `", "current_password": "` + goodPassword + `"}`
	patch := `{"full_name": "Coded Name"}`
	for _, coding := range []string{"gzip", "deflate", "br", "zstd", "GZIP", "identity, gzip", "x-anything"} {
		t.Run(coding, func(t *testing.T) {
			c := c.with(t)
			body := func(plain string) any {
				if coding == "gzip" {
					return gzipped(t, plain)
				}
				return plain // a coding the body does not even have is refused all the same
			}
			enc := header("Content-Encoding", coding)
			for _, r := range []*response{
				c.do(http.MethodPost, base+"/signup", body(signup), enc, malformed()),
				c.do(http.MethodPost, base+"/login", body(login), enc, malformed()),
				c.do(http.MethodPut, base, body(replace), enc, bearer(s.access), malformed()),
				c.do(http.MethodPatch, base, body(patch), enc, bearer(s.access), malformed()),
			} {
				r.wantProblem(t, http.StatusUnsupportedMediaType)
				if got := r.Header.Get("Accept-Encoding"); got != "identity" {
					t.Errorf("Accept-Encoding %q, want identity", got)
				}
			}
		})
	}
	c.wantNothingWritten("coded415")
	if after := c.me(s.access); !after.same(before) {
		t.Errorf("a content-coded update was stored: %v → %v", before, after)
	}
	// identity is no coding at all.
	c.do(http.MethodPost, base+"/login", login, header("Content-Encoding", "identity")).wantTokens(t, http.StatusOK)
}

func TestOversizeHeadersAre431ProblemsFromTheRouter(t *testing.T) {
	c := newApp(t)
	s := c.signup("Headstrong")
	c.do(http.MethodGet, base+"/me", nil, bearer(s.access+strings.Repeat("A", 64<<10))).wantProblem(t, http.StatusRequestHeaderFieldsTooLarge)
	c.do(http.MethodPost, base+"/refresh", nil, withCookie(strings.Repeat("c", 60<<10))).wantProblem(t, http.StatusRequestHeaderFieldsTooLarge)
	c.do(http.MethodGet, "/healthz", nil, header("X-Padding", strings.Repeat("p", 15<<10))).wantStatus(t, http.StatusOK)
}

// validatingClient is an HTTP client of a real process whose traffic is
// checked against the OpenAPI document, as the e2e client's is.
func validatingClient(t *testing.T) *http.Client {
	v := apitest.NewValidator(t, httpapi.OpenAPIDocument())
	return &http.Client{Transport: v.Transport(&http.Transport{}), Timeout: 30 * time.Second}
}

// rawAnswer is what a raw TCP exchange got back.
type rawAnswer struct {
	resp *http.Response
	body []byte
}

// exchange writes request on a new connection to addr and reads one answer.
func exchange(t *testing.T, addr, request string) rawAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to %.60q: %v", request, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("answer body to %.60q: %v", request, err)
	}
	return rawAnswer{resp: resp, body: body}
}

// wantProblemDocument fails unless a is a problem document with status.
func (a rawAnswer) wantProblemDocument(t *testing.T, status int) {
	t.Helper()
	var p problem
	if a.resp.StatusCode != status || a.resp.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(a.body, &p) != nil || p.Status != status || p.Title != http.StatusText(status) || p.Type != "about:blank" {
		t.Errorf("answer %d %q %s, want a %d problem document", a.resp.StatusCode, a.resp.Header.Get("Content-Type"), a.body, status)
	}
}

// headerBlock is a GET request of exactly size bytes up to and including
// the empty line that ends its header block.
func headerBlock(size int) string {
	head := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "
	end := "\r\n\r\n"
	return head + strings.Repeat("p", size-len(head)-len(end)) + end
}

func TestOversizeHeadersAre431ProblemsOnTheRealServer(t *testing.T) {
	p := startProcess(t)
	addr := strings.TrimPrefix(p.base, "http://")
	client := validatingClient(t)
	send := func(method, path string, h http.Header) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, p.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h != nil {
			req.Header = h
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp
	}
	for name, h := range map[string]http.Header{
		"64 KiB Authorization": {"Authorization": {"Bearer " + strings.Repeat("A", 64<<10)}},
		"60 KiB cookie":        {"Cookie": {"refresh_token=" + strings.Repeat("c", 60<<10)}},
	} {
		path, method := base+"/me", http.MethodGet
		if name == "60 KiB cookie" {
			path, method = base+"/refresh", http.MethodPost
		}
		resp := send(method, path, h)
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" ||
			resp.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: %d %q, want a 431 problem document with a request id", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	// The router counts the request line and header block as net/http does:
	// exactly HTTP_MAX_HEADER_BYTES (16384) passes, one byte more does not.
	if a := exchange(t, addr, headerBlock(16384)); a.resp.StatusCode != http.StatusOK {
		t.Errorf("a 16384-byte header block got %d, want 200", a.resp.StatusCode)
	}
	exchange(t, addr, headerBlock(16385)).wantProblemDocument(t, http.StatusRequestHeaderFieldsTooLarge)

	// Beyond the server's hard cut-off of 1 MiB, net/http answers without
	// reading the rest, and the connection is closed.
	huge := exchange(t, addr, headerBlock(1<<20+8192))
	huge.wantProblemDocument(t, http.StatusRequestHeaderFieldsTooLarge)
	if !huge.resp.Close {
		t.Error("the connection stays open after a header block over the hard cut-off")
	}
	if resp := send(http.MethodGet, "/healthz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after oversize requests: %d", resp.StatusCode)
	}
}

func TestMalformedRequestsGetProblemsAndNo5xx(t *testing.T) {
	p := startProcess(t)
	addr := strings.TrimPrefix(p.base, "http://")
	signup := func(headers, body string) string {
		return "POST /api/v1/users/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n" + body
	}
	cases := []struct {
		name, request string
		status        int
	}{
		// Answered by net/http before any route; Listener makes them problems.
		{"garbage request line", "HELLO\r\n\r\n", 400},
		{"missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
		{"malformed Host", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"space in a header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400},
		{"control character in a header value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400},
		{"non-numeric Content-Length", signup("Content-Length: ten\r\n", ""), 400},
		{"conflicting Content-Lengths", signup("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"), 400},
		{"Transfer-Encoding gzip", signup("Transfer-Encoding: gzip\r\n", "{}"), 400},
		{"Transfer-Encoding gzip, chunked", signup("Transfer-Encoding: gzip, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"), 400},
		{"two Transfer-Encoding fields", signup("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"), 400},
		{"HTTP/2.0 over HTTP/1", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400},
		{"HTTP/0.9", "GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", 400},
		// Seen by the router.
		{"broken chunked framing", signup("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := exchange(t, addr, tc.request)
			a.wantProblemDocument(t, tc.status)
			if a.resp.StatusCode >= 500 {
				t.Errorf("a client's mistake got %d", a.resp.StatusCode)
			}
		})
	}
	// An expectation other than 100-continue: net/http's own empty 417.
	if a := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n"); a.resp.StatusCode != http.StatusExpectationFailed {
		t.Errorf("Expect: tea got %d, want 417", a.resp.StatusCode)
	}
	if a := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); a.resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after malformed requests: %d", a.resp.StatusCode)
	}
}

// expectContinue sends a request with Expect: 100-continue and a body of
// size bytes as a client that waits for the server: it sends the body after
// "100 Continue", or (impatient, as RFC 9110 allows) after a final answer
// too. It returns the final answer, or why there was none, and fails when
// sending the body or reading the end of the connection hit a reset.
func expectContinue(addr, requestHead string, size int) (*http.Response, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "%sContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", requestHead, size); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("first answer: %w", err)
	}
	final := resp
	if resp.StatusCode == http.StatusContinue {
		final = nil
	} else if _, err := io.ReadAll(resp.Body); err != nil {
		return nil, fmt.Errorf("final answer's body: %w", err)
	}
	if _, err := conn.Write(bytes.Repeat([]byte(" "), size)); err != nil {
		return nil, fmt.Errorf("sending the body: %w", err)
	}
	if final == nil {
		if final, err = http.ReadResponse(br, nil); err != nil {
			return nil, fmt.Errorf("final answer: %w", err)
		}
		if _, err := io.ReadAll(final.Body); err != nil {
			return nil, fmt.Errorf("final answer's body: %w", err)
		}
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("after the answer: %d bytes, %v; want a clean end of stream", n, err)
	}
	return final, nil
}

func TestExpectContinueOverTheLimitGetsItsAnswerNotAReset(t *testing.T) {
	p := startProcess(t)
	addr := strings.TrimPrefix(p.base, "http://")
	const size = 4 << 20 // larger than what the kernel buffers between the two ends
	cases := []struct {
		name, head string
		status     int
	}{
		{"413 over the limit", "POST /api/v1/users/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", http.StatusRequestEntityTooLarge},
		{"401 invalid token", "PUT /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer not.a.token\r\n", http.StatusUnauthorized},
		{"401 no token", "PATCH /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			answered, failures := 0, map[string]int{}
			for range 60 {
				resp, err := expectContinue(addr, tc.head, size)
				switch {
				case err != nil:
					failures[err.Error()[:min(len(err.Error()), 60)]]++
				case resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" || !resp.Close:
					failures[fmt.Sprintf("%d %q close=%v", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Close)]++
				default:
					answered++
				}
			}
			if answered != 60 {
				t.Errorf("%d of 60 got their %d and a clean close; the others: %v", answered, tc.status, failures)
			}
		})
	}
	t.Run("Go's client", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}, Timeout: 30 * time.Second}
		answered := 0
		for range 60 {
			req, err := http.NewRequest(http.MethodPost, p.base+base+"/signup", bytes.NewReader(make([]byte, 2<<20)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Expect", "100-continue")
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusRequestEntityTooLarge {
				answered++
			}
		}
		if answered != 60 {
			t.Errorf("%d of 60 got their 413; the others lost it to a reset", answered)
		}
	})
}

// readyForSignals waits until p answers /readyz with 200 and then a little
// longer: the process installs its SIGTERM handler just after it starts
// listening, and logs nothing when it has (as TestSIGTERMFinishesEveryAcceptedRequest).
func readyForSignals(t *testing.T, p *process) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not answer 200 within 10s")
		}
	}
	time.Sleep(300 * time.Millisecond)
}

// waitForLog waits until the process has logged a line containing s.
func waitForLog(t *testing.T, p *process, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.stderr.String(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the process did not log %q within 10s\n%s", s, p.stderr)
		}
	}
}

func TestDrainEndsKeepAliveWithoutResettingRequests(t *testing.T) {
	p := startProcess(t, "SHUTDOWN_DRAIN_DELAY=3s", "SHUTDOWN_GRACE=10s")
	addr := strings.TrimPrefix(p.base, "http://")

	// An idle keep-alive connection, as a load balancer or a client pool
	// keeps them.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(idle)
	get := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(idle, get); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Close {
		t.Fatalf("first request: %v, close=%v", err, resp != nil && resp.Close)
	}
	_, _ = io.Copy(io.Discard, resp.Body)

	// Keep-alive clients under load through the whole shutdown: none of
	// their requests on a reused connection may fail.
	var reusedFailures, completed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 20 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				reused := false
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+base+"/login", strings.NewReader(`{"username": "nobody", "password": ""}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if reused {
						reusedFailures.Add(1)
						failures.Store(err.Error(), true)
					}
					if strings.Contains(err.Error(), "refused") {
						return // the listener has closed
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				completed.Add(1)
			}
		}()
	}
	readyForSignals(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, `"msg":"shutting down"`)
	// A request written on the idle connection once draining has started is
	// answered, and the answer ends the connection.
	if _, err := io.WriteString(idle, get); err != nil {
		t.Fatalf("writing on the idle connection: %v", err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("a request written on an idle keep-alive connection during the drain got no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("during the drain: %d, Connection %q; want 200 and Connection: close", resp.StatusCode, resp.Header.Get("Connection"))
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after the answer: %d bytes, %v; want the server to close the connection", n, err)
	}
	idle.Close()

	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit within 30s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if p.err != nil {
		t.Fatalf("exit: %v", p.err)
	}
	failures.Range(func(k, _ any) bool {
		t.Errorf("a request on a reused keep-alive connection failed: %v", k)
		return true
	})
	if completed.Load() == 0 {
		t.Fatal("no request completed: the load did not run")
	}
	t.Logf("%d requests completed, %d failed on reused connections", completed.Load(), reusedFailures.Load())
}

func TestPlannedDrainLogsOneInfoLineAndNoErrors(t *testing.T) {
	p := startProcess(t, "SHUTDOWN_DRAIN_DELAY=1s")
	client := &http.Client{Timeout: 5 * time.Second}
	readyForSignals(t, p)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	probes := 0
	for {
		resp, err := client.Get(p.base + "/readyz")
		if err != nil {
			break // the listener has closed
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			probes++
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-p.done
	if p.err != nil {
		t.Fatalf("exit: %v", p.err)
	}
	if probes < 10 {
		t.Fatalf("only %d probes answered 503 during a 1s drain", probes)
	}
	var errorLines, shuttingDown, probeLines int
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		var l struct {
			Level, Msg, Route string
			Status            int
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Level == "ERROR":
			errorLines++
		case l.Msg == "shutting down" && l.Level == "INFO":
			shuttingDown++
		case l.Msg == "request" && l.Route == "/readyz" && l.Status == http.StatusServiceUnavailable && l.Level == "INFO":
			probeLines++
		}
	}
	if errorLines != 0 || shuttingDown != 1 || probeLines != probes {
		t.Errorf("%d ERROR lines, %d INFO \"shutting down\" lines, %d INFO access lines for %d probes; want 0, 1 and one per probe\n%s",
			errorLines, shuttingDown, probeLines, probes, p.stderr)
	}
}
