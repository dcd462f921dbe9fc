package httpapi

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// sessionsPath is where the caller's sessions live, under BasePath.
const sessionsPath = "/me/sessions"

// registerSessions adds the routes of the caller's sessions to authed, the
// user routes behind the authenticator.
func (ur *UserRoutes) registerSessions(authed gin.IRouter, handle func(func(*gin.Context) error) gin.HandlerFunc) {
	authed.GET(sessionsPath, handle(ur.listSessions))
	authed.DELETE(sessionsPath, handle(ur.revokeOtherSessions))
	authed.PATCH(sessionsPath+"/:id", handle(ur.renameSession))
	authed.DELETE(sessionsPath+"/:id", handle(ur.revokeSession))
}

type sessionNameRequest struct {
	Name optional[string] `json:"name" validate:"required"`
}

// sessionResponse is the contract's SessionRead.
type sessionResponse struct {
	ID         string    `json:"id"`
	Name       *string   `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         *string   `json:"ip"`
	UserAgent  *string   `json:"user_agent"`
	Current    bool      `json:"current"`
}

// sessionListResponse is the answer of GET BASE/me/sessions.
type sessionListResponse struct {
	Items []sessionResponse `json:"items"`
}

// revokedResponse is the answer of DELETE BASE/me/sessions.
type revokedResponse struct {
	Revoked int `json:"revoked"`
}

// toSessionResponse converts s for the caller p, whose own session is the
// current one.
func toSessionResponse(s user.Session, p ports.Principal) sessionResponse {
	r := sessionResponse{
		ID:         s.ID.String(),
		Name:       nullable(s.Name.String()),
		CreatedAt:  s.CreatedAt.UTC(),
		LastUsedAt: s.LastUsedAt.UTC(),
		ExpiresAt:  s.LiveUntil().UTC(),
		UserAgent:  nullable(s.Client.UserAgent.String()),
		Current:    uuid.UUID(s.ID) == p.SessionID,
	}
	if s.Client.IP.IsValid() {
		r.IP = nullable(s.Client.IP.String())
	}
	return r
}

// nullable is s, or JSON null for "".
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// clientOf is the device a request comes from, as a session records it:
// the client IP by the trusted-proxy rule (X-Forwarded-For only from
// TRUSTED_PROXIES) and the User-Agent header.
func clientOf(c *gin.Context) user.Client {
	ip, _ := netip.ParseAddr(c.ClientIP()) // the zero Addr when unknown
	return user.Client{IP: ip.Unmap(), UserAgent: user.NewUserAgent(c.Request.UserAgent())}
}

// sessionID reads the :id path parameter; anything but a UUID in canonical
// text form is user.ErrSessionNotFound, like an unknown id.
func sessionID(c *gin.Context) (user.SessionID, error) {
	s := c.Param("id")
	id, err := user.ParseSessionID(s)
	if err != nil || len(s) != 36 {
		return user.SessionID{}, user.ErrSessionNotFound
	}
	return id, nil
}

func (ur *UserRoutes) listSessions(c *gin.Context) error {
	p := principal(c)
	sessions, err := ur.uc.ListSessions.Do(c.Request.Context(), p)
	if err != nil {
		return err
	}
	out := sessionListResponse{Items: make([]sessionResponse, 0, len(sessions))}
	for _, s := range sessions {
		out.Items = append(out.Items, toSessionResponse(s, p))
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
	return nil
}

func (ur *UserRoutes) renameSession(c *gin.Context) error {
	var req sessionNameRequest
	fields, err := ur.decoder.decode(c, &req)
	if err != nil {
		return err
	}
	errs := fieldErrors(fields)
	name := parse(&errs, "name", req.Name, user.ParseSessionName)
	id, idErr := sessionID(c)
	if idErr != nil {
		return idErr // a session that is not the caller's is 404 before any 422
	}
	if err := errs.err(); err != nil {
		return err
	}
	p := principal(c)
	renamed, err := ur.uc.RenameSession.Do(c.Request.Context(), p, id, name)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, toSessionResponse(renamed, p))
	return nil
}

func (ur *UserRoutes) revokeSession(c *gin.Context) error {
	id, err := sessionID(c)
	if err != nil {
		return err
	}
	if err := ur.uc.RevokeSession.Do(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	auditEvent(c, "session_revoked", "success", "revoked_session_id", id.String())
	c.Status(http.StatusNoContent)
	return nil
}

func (ur *UserRoutes) revokeOtherSessions(c *gin.Context) error {
	n, err := ur.uc.RevokeOtherSessions.Do(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	auditEvent(c, "other_sessions_revoked", "success", "revoked", n)
	c.JSON(http.StatusOK, revokedResponse{Revoked: n})
	return nil
}
