package httpapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

// Keys of values kept in the gin context for one request.
const (
	requestIDKey = "httpapi.request_id"
	loggerKey    = "httpapi.logger"
	// plannedKey marks a 5xx answer that is no failure of the service (503
	// while draining, or to a client that went away): logged at info.
	plannedKey = "httpapi.planned"
)

// logger returns the engine's logger, kept in the context by accessLog.
func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// writeProblemStatus answers a plain problem with status and detail.
func writeProblemStatus(c *gin.Context, status int, detail string) {
	writeProblem(c, &badRequest{status: status, detail: detail})
}

// wellFormedRequestID accepts client ids that are safe to echo and log.
var wellFormedRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestIDMiddleware takes X-Request-ID from the request when well formed,
// or makes one, and echoes it in the response.
func requestIDMiddleware(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !wellFormedRequestID.MatchString(id) {
		id = rand.Text()
	}
	c.Set(requestIDKey, id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDContextKey{}, id))
	c.Header("X-Request-ID", id)
	c.Next()
}

type requestIDContextKey struct{}

// RequestID returns the request id that the engine put in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDContextKey{}).(string)
	return id
}

// WithRequestID wraps a slog handler so that every record logged with a
// request's context carries its request_id, whichever layer logs it (the
// access log, audit events, the database adapter).
func WithRequestID(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// accessLog writes one line per request. It logs the route template, never
// the query string or any header that may carry a secret.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Set(loggerKey, log)
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 && !c.GetBool(plannedKey) {
			level = slog.LevelError
		}
		log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// recovery turns a panic into a 500 problem; the stack goes to the log only.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "stack", string(debug.Stack()))
				writeProblemStatus(c, http.StatusInternalServerError, "internal error")
			}
		}()
		c.Next()
	}
}

// securityHeaders sets the headers every response carries.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	c.Next()
}
