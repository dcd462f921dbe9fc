// Package apitest checks HTTP traffic against the service's OpenAPI document,
// so that a handler that drifts from the document fails the test that drives
// it. Only tests import it.
//
// A Validator wraps an http.RoundTripper: every request that passes through
// it must be an operation of the document with parameters and a body that
// match, and every response must have a documented status, its documented
// headers, content type and body. Tests of error paths that send deliberately
// malformed requests (bad JSON, wrong content type, oversize or unknown
// fields, unknown routes) mark them with MarkInvalid: their request is not
// checked, their response still is.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// InvalidRequestHeader marks a request that a test sends on purpose outside
// the document. Validator.Transport strips it before sending, skips the
// request's validation and still validates the response.
const InvalidRequestHeader = "X-Test-Invalid-Request"

// MarkInvalid marks r as deliberately outside the document (see
// InvalidRequestHeader) and returns it.
func MarkInvalid(r *http.Request) *http.Request {
	r.Header.Set(InvalidRequestHeader, "1")
	return r
}

// Validator validates requests and responses against one OpenAPI 3 document.
// It is safe for concurrent use; mismatches are reported with t.Errorf.
type Validator struct {
	t       testing.TB
	doc     *openapi3.T
	paths   []docPath
	options *openapi3filter.Options
	problem *openapi3.Schema

	mu        sync.Mutex
	exercised map[string]bool
}

// NewValidator loads and validates doc, an OpenAPI 3 document in JSON or
// YAML, and fails t at once when it is not valid.
func NewValidator(t testing.TB, doc []byte) *Validator {
	t.Helper()
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		t.Fatalf("apitest: loading the OpenAPI document: %v", err)
	}
	if err := d.Validate(loader.Context); err != nil {
		t.Fatalf("apitest: the OpenAPI document is not valid: %v", err)
	}
	paths, err := newDocPaths(d)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	v := &Validator{t: t, doc: d, paths: paths, exercised: map[string]bool{}}
	v.options = &openapi3filter.Options{
		MultiError:                        true,
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		// The service checks credentials; the document only says which
		// routes need them. A request without them is an error path that
		// the 401 responses describe.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		},
	}
	v.options.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
	})
	if ref := d.Components.Schemas["Problem"]; ref != nil {
		v.problem = ref.Value
	}
	return v
}

// AliasesExtension is the path-item extension that lists other paths
// answering the same operations, such as a trailing-slash form. The document
// shows each operation once; the validator matches a request to an alias as
// the path it belongs to.
const AliasesExtension = "x-aliases"

// Routes lists the document's operations as "METHOD /path", sorted. Alias
// paths are not in it; see Aliases.
func (v *Validator) Routes() []string {
	var out []string
	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// Aliases maps each alias route, "METHOD /alias", to the documented route it
// answers as, "METHOD /path": every operation of a path item is reachable
// at each path its AliasesExtension lists.
func (v *Validator) Aliases() map[string]string {
	out := map[string]string{}
	for _, p := range v.paths {
		if p.alias == "" {
			continue
		}
		for method := range p.item.Operations() {
			out[method+" "+p.alias] = method + " " + p.path
		}
	}
	return out
}

// Exercised lists, as "METHOD /path", the document's operations whose
// responses passed through a Transport so far, sorted. Suites use it to
// show they drove every operation.
func (v *Validator) Exercised() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.exercised))
	for k := range v.exercised {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Transport returns a RoundTripper that sends requests through base
// (http.DefaultTransport when nil) and validates each request and response
// against the document, buffering both bodies so that the caller still reads
// them whole.
func (v *Validator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, base: base}
}

type transport struct {
	v    *Validator
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	v := tr.v
	ctx := req.Context()
	reqBody, err := drain(req.Body)
	if err != nil {
		return nil, fmt.Errorf("apitest: reading the request body: %w", err)
	}
	out := req.Clone(ctx)
	invalid := out.Header.Get(InvalidRequestHeader) != ""
	out.Header.Del(InvalidRequestHeader)
	setBody(out, reqBody)

	preflight := isPreflight(out)
	route, params, routeErr := v.findRoute(out)
	var requestErr error
	switch {
	case invalid, preflight:
	case routeErr != nil:
		requestErr = fmt.Errorf("no such operation in the document (%v)", routeErr)
	default:
		check := out.Clone(ctx)
		setBody(check, reqBody)
		requestErr = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
			Request: check, PathParams: params, Route: route, Options: v.options,
		})
	}

	resp, err := tr.base.RoundTrip(out)
	if err != nil {
		if requestErr != nil {
			v.t.Errorf("apitest: %s %s (no response): request does not match the OpenAPI document: %v", req.Method, req.URL.Path, requestErr)
		}
		return resp, err
	}
	respBody, err := drain(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("apitest: reading the response body of %s %s: %w", req.Method, req.URL.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	if requestErr != nil {
		v.t.Errorf("apitest: %s %s -> %d: request does not match the OpenAPI document: %v", req.Method, req.URL.Path, resp.StatusCode, requestErr)
	}
	var responseErr error
	switch {
	case preflight:
		responseErr = v.validatePreflight(resp, respBody)
	case routeErr == nil:
		responseErr = v.validateResponse(ctx, out, reqBody, route, params, resp, respBody)
	default:
		responseErr = v.validateUnrouted(routeErr, resp, respBody)
	}
	if responseErr == nil {
		responseErr = v.validateProblem(resp, respBody)
	}
	if responseErr != nil {
		v.t.Errorf("apitest: %s %s -> %d: response does not match the OpenAPI document: %v", req.Method, req.URL.Path, resp.StatusCode, responseErr)
	}
	return resp, nil
}

func (v *Validator) validateResponse(ctx context.Context, req *http.Request, reqBody []byte, route *routers.Route, params map[string]string, resp *http.Response, body []byte) error {
	v.mu.Lock()
	v.exercised[route.Method+" "+route.Path] = true
	v.mu.Unlock()
	r := req.Clone(ctx)
	setBody(r, reqBody)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: v.options,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: v.options,
	}
	input.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, input)
}

// validateUnrouted checks the answer to a request for a route the document
// does not have: a 404 (unknown path) or 405 (known path, other method)
// problem document.
func (v *Validator) validateUnrouted(routeErr error, resp *http.Response, body []byte) error {
	want := http.StatusNotFound
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want = http.StatusMethodNotAllowed
	}
	if resp.StatusCode != want {
		return fmt.Errorf("the document has no such route (%v), so the answer must be %d, not %d", routeErr, want, resp.StatusCode)
	}
	return v.validateProblemSchema(resp, body)
}

// docPath is one path of the document, or one alias of it, matched exactly:
// the service does not forgive a trailing slash, so neither does the
// validator (the routers of kin-openapi do).
type docPath struct {
	path   string // the documented path
	alias  string // the alias this entry matches, or "" for path itself
	item   *openapi3.PathItem
	re     *regexp.Regexp
	params []string
}

var pathParam = regexp.MustCompile(`\{([^/{}]+)\}`)

// newDocPaths compiles the document's paths and their aliases, literal
// paths first so that they win over templates. An alias must be a string
// with the same parameters as its path and no path of its own.
func newDocPaths(d *openapi3.T) ([]docPath, error) {
	var out []docPath
	for path, item := range d.Paths.Map() {
		p := compilePath(path)
		p.item = item
		out = append(out, p)
		aliases, err := aliasesOf(item)
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", path, err)
		}
		for _, alias := range aliases {
			if d.Paths.Value(alias) != nil {
				return nil, fmt.Errorf("path %s: alias %s is also a path of the document", path, alias)
			}
			a := compilePath(alias)
			if !slices.Equal(a.params, p.params) {
				return nil, fmt.Errorf("path %s: alias %s has other parameters", path, alias)
			}
			a.path, a.alias, a.item = path, alias, item
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b docPath) int {
		if c := len(a.params) - len(b.params); c != 0 {
			return c
		}
		return strings.Compare(a.path+" "+a.alias, b.path+" "+b.alias)
	})
	return out, nil
}

// compilePath returns the docPath that matches path, its parameters
// standing for one segment each.
func compilePath(path string) docPath {
	p := docPath{path: path}
	expr := "^"
	rest := path
	for _, m := range pathParam.FindAllStringSubmatchIndex(path, -1) {
		expr += regexp.QuoteMeta(path[len(path)-len(rest) : m[0]])
		expr += "([^/]+)"
		p.params = append(p.params, path[m[2]:m[3]])
		rest = path[m[1]:]
	}
	p.re = regexp.MustCompile(expr + regexp.QuoteMeta(rest) + "$")
	return p
}

// aliasesOf reads the AliasesExtension of item: absent, or a list of paths.
func aliasesOf(item *openapi3.PathItem) ([]string, error) {
	raw, ok := item.Extensions[AliasesExtension]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of paths", AliasesExtension)
	}
	var out []string
	for _, a := range list {
		s, ok := a.(string)
		if !ok || !strings.HasPrefix(s, "/") {
			return nil, fmt.Errorf("%s must be a list of paths, not %v", AliasesExtension, a)
		}
		out = append(out, s)
	}
	return out, nil
}

// findRoute finds the operation of r. It fails with routers.ErrPathNotFound
// when no path matches and routers.ErrMethodNotAllowed when a path matches
// without an operation for r's method.
func (v *Validator) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	pathFound := false
	for _, p := range v.paths {
		m := p.re.FindStringSubmatch(r.URL.Path)
		if m == nil {
			continue
		}
		pathFound = true
		op := p.item.GetOperation(r.Method)
		if op == nil {
			continue
		}
		params := map[string]string{}
		for i, name := range p.params {
			params[name] = m[i+1]
		}
		return &routers.Route{Spec: v.doc, Path: p.path, PathItem: p.item, Method: r.Method, Operation: op}, params, nil
	}
	if pathFound {
		return nil, nil, routers.ErrMethodNotAllowed
	}
	return nil, nil, routers.ErrPathNotFound
}

// isPreflight reports whether r is a CORS preflight. The service answers
// those on every path in its middleware, as the document's description
// says, so they are not operations of the document.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// validatePreflight checks the answer to a CORS preflight: 204 with no
// body for an allowed origin, a 403 problem document otherwise.
func (v *Validator) validatePreflight(resp *http.Response, body []byte) error {
	switch resp.StatusCode {
	case http.StatusNoContent:
		if len(body) != 0 {
			return fmt.Errorf("a 204 preflight answer has a body")
		}
		return nil
	case http.StatusForbidden:
		return v.validateProblemSchema(resp, body)
	}
	return fmt.Errorf("a CORS preflight must get 204 or 403, not %d", resp.StatusCode)
}

// validateProblemSchema checks that resp is a problem document that matches
// the document's Problem schema.
func (v *Validator) validateProblemSchema(resp *http.Response, body []byte) error {
	if !isProblem(resp) {
		return fmt.Errorf("content type %q: want application/problem+json", resp.Header.Get("Content-Type"))
	}
	if v.problem == nil {
		return fmt.Errorf("the document has no Problem schema")
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("body is not JSON: %v", err)
	}
	return v.problem.VisitJSON(value, append(v.options.SchemaValidationOptions, openapi3.VisitAsResponse(), openapi3.MultiErrors())...)
}

// validateProblem checks what a schema cannot: a problem document's status
// is the response's, and its request_id is the X-Request-ID header's.
func (v *Validator) validateProblem(resp *http.Response, body []byte) error {
	if !isProblem(resp) {
		return nil
	}
	var p struct {
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("problem body is not JSON: %v", err)
	}
	if p.Status != resp.StatusCode {
		return fmt.Errorf("problem status %d differs from the response status", p.Status)
	}
	if id := resp.Header.Get("X-Request-ID"); p.RequestID != id {
		return fmt.Errorf("problem request_id %q differs from the X-Request-ID header %q", p.RequestID, id)
	}
	return nil
}

func isProblem(resp *http.Response) bool {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mediaType == "application/problem+json"
}

// drain reads and closes body; a nil body reads as nil.
func drain(body io.ReadCloser) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	defer body.Close()
	return io.ReadAll(body)
}

// setBody gives r a fresh reader over body, rewindable through GetBody. An
// empty body is sent as http.NoBody, with Content-Length 0.
func setBody(r *http.Request, body []byte) {
	if len(body) == 0 {
		r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
		return
	}
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Body, _ = r.GetBody()
	r.ContentLength = int64(len(body))
}
