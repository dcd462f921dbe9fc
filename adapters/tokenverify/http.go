package tokenverify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The service's answers to a refused bearer token, which Middleware repeats
// word for word so that clients of both services handle one shape.
const (
	// problemContentType is the Content-Type of every problem document.
	problemContentType = "application/problem+json"
	// challenge is the WWW-Authenticate header of every 401.
	challenge = `Bearer error="invalid_token"`
	// detailMissing is the detail when no bearer token was sent.
	detailMissing = "missing bearer access token"
	// detailInvalid is the detail when the token was refused, whatever the
	// reason, so that the answer tells an attacker nothing.
	detailInvalid = "access token is invalid, expired or revoked"
)

// ErrMissingToken is what Authenticate returns when the request carries no
// "Authorization: Bearer <token>" header; it wraps ErrInvalidToken.
var ErrMissingToken = fmt.Errorf("tokenverify: missing bearer access token: %w", ErrInvalidToken)

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p, as Middleware does;
// tests of handlers use it to act as a signed-in caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal that Middleware (or tokengin) verified
// for the request whose context is ctx; ok is false on a route it does not
// guard.
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authenticate reads the request's "Authorization: Bearer <token>" header
// (scheme case-insensitive) and verifies the token. It returns an error
// wrapping ErrMissingToken when there is none, or Verify's error.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, ErrMissingToken
	}
	return v.Verify(r.Context(), token)
}

// Middleware guards next: a request with a valid, unrevoked access token
// reaches next with its Principal in the request context (PrincipalFrom);
// any other gets the service's 401 answer (WriteUnauthorized) and next never
// runs.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Authenticate(r)
		if err != nil {
			v.WriteUnauthorized(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// problem is the service's RFC 9457 problem document, field for field.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteUnauthorized answers r as the service answers a refused bearer
// token: 401, Content-Type application/problem+json, Cache-Control
// no-store, WWW-Authenticate `Bearer error="invalid_token"`, and the body
// {"type":"about:blank","title":"Unauthorized","status":401,"detail":...,
// "instance":<path>,"request_id":...}, whose detail says "missing bearer
// access token" when err wraps ErrMissingToken and "access token is
// invalid, expired or revoked" otherwise. The reason inside err is never
// shown: log it if needed.
func (v *Verifier) WriteUnauthorized(w http.ResponseWriter, r *http.Request, err error) {
	detail := detailInvalid
	if errors.Is(err, ErrMissingToken) {
		detail = detailMissing
	}
	p := problem{
		Type:      "about:blank",
		Title:     http.StatusText(http.StatusUnauthorized),
		Status:    http.StatusUnauthorized,
		Detail:    detail,
		Instance:  r.URL.Path,
		RequestID: v.requestID(w, r),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the service keeps "<" and "&" of a path as they are
	_ = enc.Encode(p)
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", problemContentType)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// wellFormedRequestID accepts client ids that are safe to echo, as the
// service does.
var wellFormedRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func (v *Verifier) requestID(w http.ResponseWriter, r *http.Request) string {
	if v.cfg.RequestID != nil {
		return v.cfg.RequestID(w, r)
	}
	if id := w.Header().Get("X-Request-ID"); id != "" {
		return id
	}
	id := r.Header.Get("X-Request-ID")
	if !wellFormedRequestID.MatchString(id) {
		id = rand.Text()
	}
	w.Header().Set("X-Request-ID", id)
	return id
}
