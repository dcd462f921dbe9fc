package httpapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/ports"
)

// auditEvent logs one security-relevant act with who, from where and the
// outcome. It never logs a password, hash, token or key: callers pass ids
// and outcomes only.
func auditEvent(c *gin.Context, event, outcome string, attrs ...any) {
	base := []any{
		slog.String("event", event),
		slog.String("outcome", outcome),
		slog.String("client_ip", c.ClientIP()),
	}
	if who, ok := c.Get(principalKey); ok {
		p := who.(ports.Principal)
		base = append(base, slog.String("user_id", p.UserID.String()), slog.String("session_id", p.SessionID.String()))
	}
	logger(c).InfoContext(c.Request.Context(), "audit", append(base, attrs...)...)
}
