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
