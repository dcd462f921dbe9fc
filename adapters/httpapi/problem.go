package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/ports"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	// ErrorsOmitted counts the entries left out of Errors beyond maxErrors.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
}

// A problem lists at most maxErrors field errors and echoes at most
// maxFieldBytes of a field name, so that a body of thousands of unknown or
// huge keys does not get an answer larger than itself.
const (
	maxErrors     = 20
	maxFieldBytes = 100
)

// bounded returns the first maxErrors of fields, with long names cut, and
// how many were left out.
func bounded(fields []fieldError) ([]fieldError, int) {
	omitted := max(len(fields)-maxErrors, 0)
	out := make([]fieldError, 0, len(fields)-omitted)
	for _, f := range fields[:len(fields)-omitted] {
		if len(f.Field) > maxFieldBytes {
			cut := maxFieldBytes
			for cut > 0 && !utf8.RuneStart(f.Field[cut]) {
				cut--
			}
			f.Field = f.Field[:cut] + "…"
		}
		out = append(out, f)
	}
	return out, omitted
}

// fieldError names one failing field of a request body.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// badRequest is a request the client must fix: 400, 413, 415 or 422.
type badRequest struct {
	status int
	detail string
	fields []fieldError
}

func (b *badRequest) Error() string { return "httpapi: " + b.detail }

// tooManyRequests is a rate-limit rejection.
type tooManyRequests struct{ retryAfter int }

func (t *tooManyRequests) Error() string { return "httpapi: too many requests" }

// errForbiddenOrigin rejects a cookie request from a foreign origin.
var errForbiddenOrigin = errors.New("httpapi: request origin not allowed")

// errorStatus maps an error (matched with errors.Is) to an HTTP status and
// the detail a client sees.
type errorStatus struct {
	err    error
	status int
	detail string
}

// platformErrors map the platform ports' errors, for the routes of every
// context. Each context's routes add a table of their own domain's errors
// (userErrors, chatErrors) and pass it to handleWith.
var platformErrors = []errorStatus{
	{ports.ErrUnauthenticated, http.StatusUnauthorized, "access token is invalid, expired or revoked"},
	{errForbiddenOrigin, http.StatusForbidden, "request origin is not allowed"},
	{ports.ErrBusy, http.StatusServiceUnavailable, "the service is busy; retry later"},
	{ports.ErrUnavailable, http.StatusServiceUnavailable, "a dependency is unavailable; retry later"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "the request took too long; retry later"},
	{context.Canceled, http.StatusServiceUnavailable, "the request was cancelled; retry later"},
}

// retryAfterSeconds is what a 503 asks clients to wait.
const retryAfterSeconds = "2"

// writeProblem answers err, which only the platform's errors describe, as a
// problem document and aborts the chain.
func writeProblem(c *gin.Context, err error) { writeProblemWith(c, err, nil) }

// writeProblemWith answers err as a problem document and aborts the chain:
// a request error built while decoding, a rate-limit refusal, or an error of
// own (a context's table) or of the platform. An error none of them knows is
// a 500, logged with its chain, which never reaches the client.
func writeProblemWith(c *gin.Context, err error, own []errorStatus) {
	p := problem{Type: "about:blank", Status: http.StatusInternalServerError, Detail: "internal error"}
	var bad *badRequest
	var limited *tooManyRequests
	switch {
	case errors.As(err, &bad):
		p.Status, p.Detail, p.Errors = bad.status, bad.detail, bad.fields
	case errors.As(err, &limited):
		p.Status, p.Detail = http.StatusTooManyRequests, "too many attempts; retry later"
		c.Header("Retry-After", strconv.Itoa(limited.retryAfter))
	default:
		for _, m := range slices.Concat(own, platformErrors) {
			if errors.Is(err, m.err) {
				p.Status, p.Detail = m.status, m.detail
				break
			}
		}
	}
	switch p.Status {
	case http.StatusUnauthorized:
		if c.GetBool(bearerRouteKey) {
			c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", retryAfterSeconds)
	}
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client went away first: nobody reads this answer, and the
		// service did not fail.
		c.Set(plannedKey, true)
		logger(c).InfoContext(c.Request.Context(), "client went away before the answer")
	}
	if p.Status >= 500 && !c.GetBool(plannedKey) {
		// The chain goes to the log only; adapters keep secrets out of errors.
		logger(c).ErrorContext(c.Request.Context(), "request failed", "status", p.Status, "err", err.Error())
	}
	p.Title = http.StatusText(p.Status)
	p.Instance = c.Request.URL.Path
	p.RequestID = requestID(c)
	if len(p.Errors) > 0 {
		p.Errors, p.ErrorsOmitted = bounded(p.Errors)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" in an echoed field name stays one byte
	_ = enc.Encode(p)
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	c.Header("Cache-Control", "no-store")
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}

// handleWith adapts a handler that returns an error to gin, answering any
// error with writeProblemWith and the handler's context's table own.
func handleWith(own []errorStatus, h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeProblemWith(c, err, own)
		}
	}
}
