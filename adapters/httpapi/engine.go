package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Routes is one bounded context's (or the platform's) set of routes.
// bootstrap collects every Routes into the engine.
type Routes interface {
	Register(r gin.IRouter)
}

// EngineSettings configure the gin engine.
type EngineSettings struct {
	// TrustedProxies are the proxies whose X-Forwarded-For is believed; empty
	// means the client IP is always the peer address.
	TrustedProxies []string
	// MaxHeaderBytes is the largest request line and header block; larger
	// gets 431. 0 means no limit beyond the HTTP server's own.
	MaxHeaderBytes int
	// DependencyDeadline bounds the work each request asks of the database,
	// the hashing slots and Redis, counted from the request's arrival; when it
	// passes, the request answers 503. 0 sets no deadline.
	DependencyDeadline time.Duration
}

// NewEngine builds the gin engine with the middleware every route shares and
// the given routes. Unknown paths and methods get problem documents.
func NewEngine(s EngineSettings, log *slog.Logger, guard *Guard, metrics *Metrics, routes []Routes) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.TrustedProxies); err != nil {
		return nil, err
	}
	e.Use(requestIDMiddleware, dependencyDeadline(s.DependencyDeadline), metrics.middleware, accessLog(log), recovery(log), securityHeaders, headerLimit(s.MaxHeaderBytes), guard.cors)
	e.NoRoute(func(c *gin.Context) { writeProblemStatus(c, http.StatusNotFound, "no such route") })
	e.NoMethod(func(c *gin.Context) {
		writeProblemStatus(c, http.StatusMethodNotAllowed, "method not allowed on this route")
	})
	for _, r := range routes {
		r.Register(e)
	}
	return e, nil
}
