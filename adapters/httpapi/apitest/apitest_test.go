package apitest_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"example.com/usersvc/adapters/httpapi/apitest"
)

// recorder is a testing.TB that keeps what the validator reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.TB.Fatalf(format, args...)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.errors
	r.errors = nil
	return out
}

const doc = `{
  "openapi": "3.0.3",
  "info": {"title": "things", "version": "1"},
  "paths": {
    "/things": {"x-aliases": ["/things/"], "post": {
      "requestBody": {"required": true, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": false, "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}}}}},
      "responses": {
        "201": {"description": "made", "headers": {"X-Request-ID": {"required": true, "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "422": {"$ref": "#/components/responses/Problem"}}}},
    "/things/{id}": {"get": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "responses": {
        "200": {"description": "the thing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
        "404": {"$ref": "#/components/responses/Problem"}}}}
  },
  "components": {
    "schemas": {
      "Thing": {"type": "object", "additionalProperties": false, "required": ["name"],
                "properties": {"name": {"type": "string"}}},
      "Problem": {"type": "object", "required": ["type", "title", "status"],
                  "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                                 "request_id": {"type": "string"}}}
    },
    "responses": {"Problem": {"description": "a problem",
      "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
  }
}`

// server answers whatever the test puts in its fields.
type server struct {
	mu      sync.Mutex
	status  int
	ctype   string
	body    string
	omitID  bool        // leave out X-Request-ID
	headers http.Header // of the last request
}

func (s *server) answer(status int, ctype, body string, omitID bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.ctype, s.body, s.omitID = status, ctype, body, omitID
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headers = r.Header.Clone()
	io.Copy(io.Discard, r.Body)
	if !s.omitID {
		w.Header().Set("X-Request-ID", "req-1")
	}
	if s.ctype != "" {
		w.Header().Set("Content-Type", s.ctype)
	}
	w.WriteHeader(s.status)
	io.WriteString(w, s.body)
}

func TestValidator(t *testing.T) {
	rec := &recorder{TB: t}
	v := apitest.NewValidator(rec, []byte(doc))
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := &http.Client{Transport: v.Transport(ts.Client().Transport)}

	problem := `{"type":"about:blank","title":"Not Found","status":404,"request_id":"req-1"}`
	cases := []struct {
		name         string
		method, path string
		body         string
		invalid      bool
		status       int
		ctype, reply string
		want         []string // substrings of the reports, in order; none for a clean pass
	}{
		{"valid", "POST", "/things", `{"name":"box"}`, false, 201, "application/json", `{"name":"box"}`, nil},
		{"valid GET", "GET", "/things/7", "", false, 200, "application/json; charset=utf-8", `{"name":"box"}`, nil},
		{"response with an unknown field", "GET", "/things/7", "", false, 200, "application/json", `{"name":"box","id":7}`,
			[]string{"GET /things/7 -> 200: response does not match"}},
		{"undocumented status", "GET", "/things/7", "", false, 500, "application/json", `{}`,
			[]string{"GET /things/7 -> 500: response does not match", "status is not supported"}},
		{"wrong content type", "GET", "/things/7", "", false, 200, "text/plain", `box`,
			[]string{"GET /things/7 -> 200: response does not match"}},
		{"missing response header", "POST", "/things", `{"name":"box"}`, false, 201, "application/json", `{"name":"box"}`,
			[]string{"POST /things -> 201: response does not match", "X-Request-ID"}},
		{"request body breaks the schema", "POST", "/things", `{"name":"Box1"}`, false, 422, "application/problem+json",
			strings.Replace(problem, "404", "422", 1),
			[]string{"POST /things -> 422: request does not match"}},
		{"marked invalid request", "POST", "/things", `{"name":`, true, 422, "application/problem+json",
			strings.Replace(problem, "404", "422", 1), nil},
		{"marked invalid request, bad response", "POST", "/things", `{"name":`, true, 400, "application/problem+json",
			strings.Replace(problem, "404", "400", 1), []string{"POST /things -> 400: response does not match"}},
		{"bad path parameter", "GET", "/things/x", "", false, 404, "application/problem+json", problem,
			[]string{"GET /things/x -> 404: request does not match"}},
		{"unknown route", "GET", "/nothing", "", false, 404, "application/problem+json", problem,
			[]string{"GET /nothing -> 404: request does not match", "no such operation"}},
		{"marked unknown route", "GET", "/nothing", "", true, 404, "application/problem+json", problem, nil},
		{"trailing slash is another route", "GET", "/things/7/", "", true, 404, "application/problem+json", problem, nil},
		{"declared alias", "POST", "/things/", `{"name":"box"}`, false, 201, "application/json", `{"name":"box"}`, nil},
		{"declared alias checks the body", "POST", "/things/", `{"name":"Box1"}`, false, 422, "application/problem+json",
			strings.Replace(problem, "404", "422", 1), []string{"POST /things/ -> 422: request does not match"}},
		{"declared alias, wrong method", "GET", "/things/", "", true, 405, "application/problem+json", strings.Replace(problem, "404", "405", 1), nil},
		{"unknown route answered 200", "GET", "/nothing", "", true, 200, "application/json", `{}`,
			[]string{"GET /nothing -> 200: response does not match", "must be 404"}},
		{"wrong method", "DELETE", "/things", "", true, 405, "application/problem+json", strings.Replace(problem, "404", "405", 1), nil},
		{"problem status differs", "GET", "/things/7", "", false, 404, "application/problem+json", strings.Replace(problem, "404", "400", 1),
			[]string{"problem status 400 differs"}},
		{"body without a documented body", "GET", "/things/7", `{"x":1}`, false, 200, "application/json", `{"name":"box"}`,
			[]string{"GET /things/7 -> 200: request does not match"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.answer(c.status, c.ctype, c.reply, c.name == "missing response header")
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, ts.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.invalid {
				apitest.MarkInvalid(req)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(got) != c.reply {
				t.Errorf("caller read %q (%v), want the whole body %q", got, err, c.reply)
			}
			if h := srv.headers.Get(apitest.InvalidRequestHeader); h != "" {
				t.Errorf("the server saw %s: %s", apitest.InvalidRequestHeader, h)
			}
			reports := rec.take()
			if len(c.want) == 0 && len(reports) > 0 {
				t.Errorf("want no report, got %q", reports)
			}
			if len(c.want) > 0 {
				all := strings.Join(reports, "\n")
				for _, w := range c.want {
					if !strings.Contains(all, w) {
						t.Errorf("reports %q lack %q", reports, w)
					}
				}
			}
		})
	}

	if got, want := v.Routes(), []string{"GET /things/{id}", "POST /things"}; !slices.Equal(got, want) {
		t.Errorf("Routes() = %q, want %q", got, want)
	}
	if got, want := v.Aliases(), map[string]string{"POST /things/": "POST /things"}; !maps.Equal(got, want) {
		t.Errorf("Aliases() = %q, want %q", got, want)
	}
	if got, want := v.Exercised(), []string{"GET /things/{id}", "POST /things"}; !slices.Equal(got, want) {
		t.Errorf("Exercised() = %q, want %q", got, want)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and stops
// the caller with a panic that loads recovers.
type fatalRecorder struct {
	testing.TB
	msg string
}

type stopped struct{}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(stopped{})
}

// loads reports what NewValidator fails with for doc, or "" when it loads.
func loads(t *testing.T, doc string) (msg string) {
	r := &fatalRecorder{TB: t}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopped); !ok {
				panic(p)
			}
			msg = r.msg
		}
	}()
	apitest.NewValidator(r, []byte(doc))
	return ""
}

func TestValidatorRefusesBadAliases(t *testing.T) {
	for name, c := range map[string]struct{ aliases, want string }{
		"not a list":         {`"/things/"`, "must be a list of paths"},
		"not a path":         {`["things/"]`, "must be a list of paths"},
		"a documented path":  {`["/things/{id}"]`, "is also a path of the document"},
		"another parameter":  {`["/things/{id}/x"]`, "has other parameters"},
		"a well-formed list": {`["/things/", "/stuff"]`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := strings.Replace(doc, `"x-aliases": ["/things/"]`, `"x-aliases": `+c.aliases, 1)
			got := loads(t, d)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("NewValidator fails with %q, want %q", got, c.want)
			}
		})
	}
}
