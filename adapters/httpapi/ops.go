package httpapi

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Readiness tells load balancers whether to send traffic: ready while the
// database answers and the process is not shutting down.
type Readiness struct {
	ping     func(context.Context) error
	draining atomic.Bool
}

// NewReadiness builds a Readiness that calls ping to check the database.
func NewReadiness(ping func(context.Context) error) *Readiness { return &Readiness{ping: ping} }

// Drain makes /readyz answer 503 from now on; called when shutdown starts.
func (r *Readiness) Drain() { r.draining.Store(true) }

// DrainKeepAlives wraps the server's handler: once Drain has been called,
// every answer carries "Connection: close", so net/http closes each
// keep-alive connection right after its next answer and none is left idle
// when the listener closes. Unlike http.Server.SetKeepAlivesEnabled(false),
// it does not close idle connections at once, which would reset a request
// a client is writing on one at that moment.
func (r *Readiness) DrainKeepAlives(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, req)
	})
}

// OpsRoutes serves /healthz, /readyz and /.well-known/jwks.json.
type OpsRoutes struct {
	ready *Readiness
	jwks  []byte
}

// NewOpsRoutes builds the operational routes; jwks is the JSON Web Key Set of
// the access-token verification keys.
func NewOpsRoutes(ready *Readiness, jwks []byte) *OpsRoutes {
	return &OpsRoutes{ready: ready, jwks: jwks}
}

// Register adds the operational routes to r.
func (o *OpsRoutes) Register(r gin.IRouter) {
	r.GET("/healthz", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	r.GET("/readyz", o.readyz)
	r.GET("/.well-known/jwks.json", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/jwk-set+json", o.jwks)
	})
}

func (o *OpsRoutes) readyz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if o.ready.draining.Load() {
		// A planned drain, logged once when it starts: not a failure to log
		// again on every probe.
		c.Set(plannedKey, true)
		writeProblemStatus(c, http.StatusServiceUnavailable, "shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := o.ready.ping(ctx); err != nil {
		writeProblemStatus(c, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
