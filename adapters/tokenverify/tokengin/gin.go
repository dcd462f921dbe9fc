// Package tokengin is the gin middleware of tokenverify, kept apart so that
// a service on plain net/http does not pull in gin.
package tokengin

import (
	"github.com/gin-gonic/gin"

	"example.com/usersvc/adapters/tokenverify"
)

// Require returns the gin middleware of v: a request with a valid,
// unrevoked access token goes on with its Principal in the request context
// (tokenverify.PrincipalFrom(c.Request.Context()), or Principal(c)); any
// other gets the service's 401 problem document (v.WriteUnauthorized) and the
// chain is aborted.
func Require(v *tokenverify.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := v.Authenticate(c.Request)
		if err != nil {
			v.WriteUnauthorized(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(tokenverify.WithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// Principal returns the principal Require verified for c; ok is false on a
// route it does not guard.
func Principal(c *gin.Context) (p tokenverify.Principal, ok bool) {
	return tokenverify.PrincipalFrom(c.Request.Context())
}
