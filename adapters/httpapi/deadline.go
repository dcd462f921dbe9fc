package httpapi

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// dependencyDeadline gives each request's context a deadline of d from the
// request's arrival. Every store, the hasher's wait for a slot and the Redis
// limiter work with that context, so when a dependency stalls its call fails
// with an error wrapping ports.ErrUnavailable or context.DeadlineExceeded,
// which writeProblem answers 503 with Retry-After, instead of the request
// hanging for as long as the stall lasts. d <= 0 sets no deadline.
func dependencyDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d <= 0 {
			c.Next()
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
