package httpapi

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/application/userapp"
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
	if who, ok := c.Get(callerKey); ok {
		caller := who.(userapp.Caller)
		base = append(base, slog.String("user_id", caller.UserID.String()), slog.String("session_id", caller.SessionID.String()))
	}
	logger(c).InfoContext(c.Request.Context(), "audit", append(base, attrs...)...)
}

// auditTokens logs a successful act that issued tokens.
func auditTokens(c *gin.Context, event string, t userapp.Tokens) {
	auditEvent(c, event, "success", "user_id", t.UserID.String(), "session_id", t.SessionID.String())
}
