package httpapi

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/ports"
)

// Limits are the abuse limits of the user routes; a Limit that is Off never
// refuses.
type Limits struct {
	SignUpPerIP         ports.Limit
	LogInPerIP          ports.Limit
	RefreshPerIP        ports.Limit
	FailedLogInsPerUser ports.Limit
}

// Guard holds the browser-facing and abuse protections shared by routes:
// rate limits, CORS and the cross-site check of cookie routes.
type Guard struct {
	limiter ports.RateLimiter
	limits  Limits
	origins []string
	metrics *Metrics
}

// NewGuard builds a Guard. limiter may be nil when every limit is off.
// corsOrigins are the browser origins (scheme://host[:port]) allowed to call
// with credentials. Rejections are counted in metrics.
func NewGuard(limiter ports.RateLimiter, limits Limits, corsOrigins []string, metrics *Metrics) *Guard {
	return &Guard{limiter: limiter, limits: limits, origins: corsOrigins, metrics: metrics}
}

// perIP limits requests of one client IP on a route. scope names the route
// in keys, logs and metrics.
func (g *Guard) perIP(scope string, l ports.Limit) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := g.allow(c, scope, scope+"-ip:"+c.ClientIP(), l); err != nil {
			writeProblem(c, err)
			return
		}
		c.Next()
	}
}

// allow records one event against key and fails with *tooManyRequests when
// the limit is used up. Limits taken before the work they bound (a password
// comparison) are taken here, so a burst of concurrent requests gets no more
// than the budget has left; refund gives back an event that did not count.
func (g *Guard) allow(c *gin.Context, scope, key string, l ports.Limit) error {
	if l.Off() || g.limiter == nil {
		return nil
	}
	ok, retry, err := g.limiter.Allow(c.Request.Context(), key, l)
	if err != nil {
		return err
	}
	if !ok {
		return g.limited(c, scope, retry)
	}
	return nil
}

// refundTimeout bounds giving back an attempt; it runs even when the request's
// own context has ended.
const refundTimeout = time.Second

// refund gives back the event allow recorded against key, for an attempt that
// turned out not to count. It runs even when the client has gone away. A
// failure only leaves the attempt spent, the safe side, so it is logged and
// not answered.
func (g *Guard) refund(c *gin.Context, key string, l ports.Limit) {
	if l.Off() || g.limiter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), refundTimeout)
	defer cancel()
	if err := g.limiter.Refund(ctx, key, l); err != nil {
		logger(c).WarnContext(ctx, "rate limit: attempt not given back", "err", err.Error())
	}
}

func (g *Guard) limited(c *gin.Context, scope string, retry time.Duration) error {
	auditEvent(c, "rate_limited", "refused", "scope", scope)
	g.metrics.RateLimited(scope)
	return &tooManyRequests{retryAfter: int(math.Ceil(max(retry, time.Second).Seconds()))}
}

// corsAllowed reports whether origin may call with credentials.
func (g *Guard) corsAllowed(origin string) bool { return slices.Contains(g.origins, origin) }

// cors answers preflights and adds the CORS headers for allowed origins. It
// never sends a wildcard: credentials are allowed only for listed origins.
func (g *Guard) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	allowed := g.corsAllowed(origin)
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After, WWW-Authenticate")
	}
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		if !allowed {
			writeProblemStatus(c, http.StatusForbidden, "origin not allowed")
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// sameSite refuses a cookie route request whose Origin header names an origin
// that is neither this service's nor on the CORS list: a cross-site request
// forgery that SameSite=Strict did not already stop.
func (g *Guard) sameSite(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" || g.corsAllowed(origin) || sameHost(origin, c.Request.Host) {
		c.Next()
		return
	}
	auditEvent(c, "cross_site_refused", "refused", "origin_host", originHost(origin))
	writeProblem(c, errForbiddenOrigin)
}

func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, host)
}

func originHost(origin string) string {
	if u, err := url.Parse(origin); err == nil {
		return u.Host
	}
	return "unparseable"
}
