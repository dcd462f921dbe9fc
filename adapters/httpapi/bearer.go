package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/ports"
)

// Keys of the authenticated request's values in the gin context.
const (
	principalKey   = "httpapi.principal"
	bearerRouteKey = "httpapi.bearer"
)

// Bearer is the one authenticator of every bounded context's bearer routes:
// before any handler runs, it verifies the access token and checks that its
// session is live, so a revoked session is refused on every route at once,
// and it hands the handler the principal. It is safe for concurrent use.
type Bearer struct {
	tokens   ports.AccessVerifier
	sessions ports.Revocations
}

// NewBearer builds the authenticator on the platform's token verifier and
// revocations.
func NewBearer(tokens ports.AccessVerifier, sessions ports.Revocations) *Bearer {
	return &Bearer{tokens: tokens, sessions: sessions}
}

// Require is the middleware of a bearer route. It answers 401 with a Bearer
// challenge for a missing, malformed, expired, wrongly signed or revoked
// access token, 503 when the revocations cannot be checked, and otherwise
// keeps the principal for the handler (principal) and goes on.
func (b *Bearer) Require(c *gin.Context) {
	c.Set(bearerRouteKey, true)
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		c.Header("WWW-Authenticate", `Bearer realm="usersvc"`)
		writeProblemStatus(c, http.StatusUnauthorized, "missing bearer access token")
		return
	}
	claims, err := b.tokens.VerifyAccess(strings.TrimSpace(token))
	if err != nil {
		writeProblem(c, err)
		return
	}
	ended, err := b.sessions.Ended(c.Request.Context(), claims.Principal)
	if err != nil {
		writeProblem(c, err)
		return
	}
	if ended {
		writeProblem(c, ports.ErrUnauthenticated)
		return
	}
	c.Set(principalKey, claims.Principal)
	c.Next()
}

// principal returns who the request acts for, as Require verified it.
func principal(c *gin.Context) ports.Principal {
	p, _ := c.Get(principalKey)
	return p.(ports.Principal)
}
