package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
)

// BasePath is where the user context's routes live.
const BasePath = "/api/v1/users"

// refreshCookie is the name of the cookie that carries the refresh token.
const refreshCookie = "refresh_token"

// CookieSettings say how the refresh cookie is written.
type CookieSettings struct {
	// Secure adds the Secure attribute; switch it off only for plain-http local work.
	Secure bool
}

// userErrors map the user context's errors to HTTP answers.
var userErrors = []errorStatus{
	{user.ErrUsernameTaken, http.StatusConflict, "username is already taken"},
	{user.ErrInvalidCredentials, http.StatusUnauthorized, "invalid username or password"},
	{user.ErrSessionInvalid, http.StatusUnauthorized, "token or session is invalid, expired or revoked"},
	{user.ErrNotFound, http.StatusUnauthorized, "token or session is invalid, expired or revoked"},
	{user.ErrWrongPassword, http.StatusForbidden, "current_password is wrong"},
	{user.ErrPasswordRequired, http.StatusUnprocessableEntity, "current_password is required when password is set"},
	{user.ErrSessionNotFound, http.StatusNotFound, "session not found"},
	{user.ErrCurrentSession, http.StatusConflict, "this is the current session: log out to end it"},
	{user.ErrAccountDisabled, http.StatusForbidden, "account is disabled"},
}

// UserRoutes serves the user context under BasePath.
type UserRoutes struct {
	uc      *userapp.UseCases
	bearer  *Bearer
	policy  user.PasswordPolicy
	cookie  CookieSettings
	guard   *Guard
	decoder *decoder
}

// NewUserRoutes builds the user context's routes. bearer authenticates the
// bearer routes; policy checks new passwords; guard applies the rate limits
// and the cross-site check.
func NewUserRoutes(uc *userapp.UseCases, bearer *Bearer, policy user.PasswordPolicy, cookie CookieSettings, guard *Guard) *UserRoutes {
	return &UserRoutes{uc: uc, bearer: bearer, policy: policy, cookie: cookie, guard: guard, decoder: newDecoder()}
}

// Register adds the routes to r. BASE and BASE/ are the same route for PUT,
// PATCH and DELETE; neither redirects.
func (ur *UserRoutes) Register(r gin.IRouter) {
	g := r.Group(BasePath)
	limits := ur.guard.limits
	handle := func(h func(*gin.Context) error) gin.HandlerFunc { return handleWith(userErrors, h) }
	g.POST("/signup", ur.guard.perIP("signup", limits.SignUpPerIP), handle(ur.signUp))
	g.POST("/login", ur.guard.perIP("login", limits.LogInPerIP), handle(ur.logIn))
	g.POST("/refresh", ur.guard.sameSite, ur.guard.perIP("refresh", limits.RefreshPerIP), handle(ur.refresh))
	g.POST("/logout", ur.guard.sameSite, handle(ur.logOut))

	authed := g.Group("", ur.bearer.Require)
	authed.GET("/me", handle(ur.me))
	for _, path := range []string{"", "/"} {
		authed.PUT(path, handle(ur.replace))
		authed.PATCH(path, handle(ur.patch))
		authed.DELETE(path, handle(ur.deleteAccount))
	}
	ur.registerSessions(authed, handle)
}

type signUpRequest struct {
	Username optional[string] `json:"username" validate:"required"`
	Password optional[string] `json:"password" validate:"required"`
	FullName optional[string] `json:"full_name"`
}

type logInRequest struct {
	Username optional[string] `json:"username" validate:"required"`
	Password optional[string] `json:"password" validate:"required"`
}

type replaceRequest struct {
	Username        optional[string] `json:"username" validate:"required"`
	Password        optional[string] `json:"password" validate:"required"`
	CurrentPassword optional[string] `json:"current_password" validate:"required"`
	FullName        optional[string] `json:"full_name"`
}

type patchRequest struct {
	Username        optional[string] `json:"username"`
	Password        optional[string] `json:"password"`
	CurrentPassword optional[string] `json:"current_password"`
	FullName        optional[string] `json:"full_name"`
}

// tokenResponse is the contract's Token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// userResponse is the contract's UserRead.
type userResponse struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	FullName  *string   `json:"full_name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserResponse(u *user.User) userResponse {
	r := userResponse{
		ID:        u.ID().String(),
		Username:  u.Username().String(),
		CreatedAt: u.CreatedAt().UTC(),
		UpdatedAt: u.UpdatedAt().UTC(),
	}
	if full := u.FullName(); !full.IsZero() {
		name := full.String()
		r.FullName = &name
	}
	return r
}

func (ur *UserRoutes) signUp(c *gin.Context) error {
	var req signUpRequest
	fields, err := ur.decoder.decode(c, &req)
	if err != nil {
		return err
	}
	errs := fieldErrors(fields)
	in := userapp.SignUpInput{
		Username: parse(&errs, "username", req.Username, user.ParseUsername),
		Password: parse(&errs, "password", req.Password, ur.policy.Parse),
		FullName: parse(&errs, "full_name", req.FullName, user.ParseFullName),
		Client:   clientOf(c),
	}
	if err := errs.err(); err != nil {
		return err
	}
	tokens, err := ur.uc.SignUp.Do(c.Request.Context(), in)
	if err != nil {
		if errors.Is(err, user.ErrUsernameTaken) {
			auditEvent(c, "signup", "username_taken")
		}
		return err
	}
	auditTokens(c, "signup", tokens)
	ur.writeTokens(c, http.StatusCreated, tokens)
	return nil
}

func (ur *UserRoutes) logIn(c *gin.Context) error {
	var req logInRequest
	fields, err := ur.decoder.decode(c, &req)
	if err != nil {
		return err
	}
	errs := fieldErrors(fields)
	in := userapp.LogInInput{
		Username: parse(&errs, "username", req.Username, user.ParseUsername),
		Password: parse(&errs, "password", req.Password, ur.policy.ForCheck),
		Client:   clientOf(c),
	}
	if err := errs.err(); err != nil {
		return err
	}
	// The attempt is taken before the password is compared, so a burst of
	// guesses gets no more comparisons than the username has failures left.
	// Only ErrInvalidCredentials keeps it; LogIn returns any other outcome
	// only for a right password or when none was compared (503), and those
	// give it back.
	failedKey := "login-user:" + in.Username.Key()
	failures := ur.guard.limits.FailedLogInsPerUser
	if err := ur.guard.allow(c, "login-user", failedKey, failures); err != nil {
		return err
	}
	tokens, err := ur.uc.LogIn.Do(c.Request.Context(), in)
	if errors.Is(err, user.ErrInvalidCredentials) {
		auditEvent(c, "login", "failure")
		if err != user.ErrInvalidCredentials {
			logger(c).WarnContext(c.Request.Context(), "stored password hash cannot be verified", "err", err.Error())
		}
		return err
	}
	// A disabled account's right password is no failed guess: it is refunded too.
	ur.guard.refund(c, failedKey, failures)
	if errors.Is(err, user.ErrAccountDisabled) {
		auditEvent(c, "login", "account_disabled")
	}
	if err != nil {
		return err
	}
	auditTokens(c, "login", tokens)
	ur.writeTokens(c, http.StatusOK, tokens)
	return nil
}

func (ur *UserRoutes) refresh(c *gin.Context) error {
	token, err := refreshTokenOf(c)
	if err != nil {
		return err
	}
	tokens, err := ur.uc.Refresh.Do(c.Request.Context(), token, clientOf(c))
	if err != nil {
		if errors.Is(err, user.ErrRefreshReused) {
			auditEvent(c, "refresh_reuse_detected", "session_revoked", "user_id", tokens.UserID.String(), "session_id", tokens.SessionID.String())
			ur.guard.metrics.RefreshReused()
		}
		ur.clearCookieIfSessionGone(c, err)
		return err
	}
	auditTokens(c, "refresh", tokens)
	ur.writeTokens(c, http.StatusOK, tokens)
	return nil
}

func (ur *UserRoutes) logOut(c *gin.Context) error {
	token, err := refreshTokenOf(c)
	if err != nil {
		return err
	}
	who, err := ur.uc.LogOut.Do(c.Request.Context(), token)
	if err != nil {
		ur.clearCookieIfSessionGone(c, err)
		return err
	}
	auditEvent(c, "logout", "success", "user_id", who.UserID.String(), "session_id", who.SessionID.String())
	ur.clearCookie(c)
	c.Status(http.StatusNoContent)
	return nil
}

func (ur *UserRoutes) me(c *gin.Context) error {
	u, err := ur.uc.Profile.Do(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toUserResponse(u))
	return nil
}

func (ur *UserRoutes) replace(c *gin.Context) error {
	var req replaceRequest
	fields, err := ur.decoder.decode(c, &req)
	if err != nil {
		return err
	}
	errs := fieldErrors(fields)
	in := userapp.ReplaceInput{
		Username:        parse(&errs, "username", req.Username, user.ParseUsername),
		Password:        parse(&errs, "password", req.Password, ur.policy.Parse),
		CurrentPassword: parse(&errs, "current_password", req.CurrentPassword, ur.policy.ForCheck),
		FullName:        parse(&errs, "full_name", req.FullName, user.ParseFullName),
	}
	if err := errs.err(); err != nil {
		return err
	}
	changed, err := ur.uc.ReplaceProfile.Do(c.Request.Context(), principal(c), in)
	if err != nil {
		auditProfileFailure(c, err)
		return err
	}
	auditProfile(c, changed)
	c.JSON(http.StatusOK, toUserResponse(changed.User))
	return nil
}

func (ur *UserRoutes) patch(c *gin.Context) error {
	var req patchRequest
	fields, err := ur.decoder.decode(c, &req)
	if err != nil {
		return err
	}
	var in userapp.PatchInput
	errs := fieldErrors(fields)
	if req.Username.Set {
		name, err := user.ParseUsername(req.Username.Value) // null breaks the rule too
		errs.add("username", err)
		in.Username = &name
	}
	if req.Password.Set {
		p, err := ur.policy.Parse(req.Password.Value)
		errs.add("password", err)
		in.Password = &p
		if !req.CurrentPassword.present() {
			errs = append(errs, fieldError{Field: "current_password", Message: "is required when password is set"})
		}
	}
	if req.CurrentPassword.present() {
		p, err := ur.policy.ForCheck(req.CurrentPassword.Value)
		errs.add("current_password", err)
		in.CurrentPassword = &p
	}
	if req.FullName.Set {
		var full user.FullName // null clears
		if !req.FullName.Null {
			full, err = user.ParseFullName(req.FullName.Value)
			errs.add("full_name", err)
		}
		in.FullName = &full
	}
	if err := errs.err(); err != nil {
		return err
	}
	changed, err := ur.uc.PatchProfile.Do(c.Request.Context(), principal(c), in)
	if err != nil {
		auditProfileFailure(c, err)
		return err
	}
	auditProfile(c, changed)
	c.JSON(http.StatusOK, toUserResponse(changed.User))
	return nil
}

func (ur *UserRoutes) deleteAccount(c *gin.Context) error {
	if err := ur.uc.DeleteAccount.Do(c.Request.Context(), principal(c)); err != nil {
		return err
	}
	auditEvent(c, "account_deleted", "success")
	ur.clearCookie(c)
	c.Status(http.StatusNoContent)
	return nil
}

func auditProfile(c *gin.Context, changed userapp.ProfileChange) {
	if changed.PasswordChanged {
		auditEvent(c, "password_changed", "success", "other_sessions", "revoked")
	}
}

func auditProfileFailure(c *gin.Context, err error) {
	if errors.Is(err, user.ErrWrongPassword) {
		auditEvent(c, "profile_change", "wrong_current_password")
	}
}

// writeTokens answers with the Token body and sets the refresh cookie.
func (ur *UserRoutes) writeTokens(c *gin.Context, status int, t userapp.Tokens) {
	ur.setCookie(c, t.Refresh, int(t.RefreshMaxAge/time.Second))
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(status, tokenResponse{
		AccessToken: t.Access,
		TokenType:   "bearer",
		ExpiresIn:   int(t.AccessExpiresIn / time.Second),
	})
}

func (ur *UserRoutes) setCookie(c *gin.Context, value string, maxAge int) {
	if maxAge <= 0 {
		maxAge = -1 // net/http writes Max-Age=0
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     refreshCookie,
		Value:    value,
		Path:     BasePath,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   ur.cookie.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (ur *UserRoutes) clearCookie(c *gin.Context) { ur.setCookie(c, "", -1) }

// isSessionError reports an error that means the session or its user is gone.
func isSessionError(err error) bool {
	return errors.Is(err, user.ErrSessionInvalid) || errors.Is(err, user.ErrNotFound)
}

// auditTokens logs a successful act that issued tokens.
func auditTokens(c *gin.Context, event string, t userapp.Tokens) {
	auditEvent(c, event, "success", "user_id", t.UserID.String(), "session_id", t.SessionID.String())
}

// clearCookieIfSessionGone clears the refresh cookie when err says its
// session can no longer be used, so the browser stops sending it.
func (ur *UserRoutes) clearCookieIfSessionGone(c *gin.Context, err error) {
	if isSessionError(err) {
		ur.clearCookie(c)
	}
}

// refreshTokenOf reads the refresh cookie; a missing or empty one is
// user.ErrSessionInvalid.
func refreshTokenOf(c *gin.Context) (string, error) {
	token, err := c.Cookie(refreshCookie)
	if err != nil || token == "" {
		return "", user.ErrSessionInvalid
	}
	return token, nil
}
