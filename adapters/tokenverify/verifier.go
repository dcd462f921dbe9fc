package tokenverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults of Config; each matches the service's own default.
const (
	// DefaultIssuer is the iss required when Config.Issuer is empty (the
	// service's TOKEN_ISSUER default).
	DefaultIssuer = "usersvc"
	// DefaultAudience is the aud required when Config.Audience is empty (the
	// service's TOKEN_AUDIENCE default).
	DefaultAudience = "usersvc"
	// DefaultLeeway is the clock skew tolerated when Config.Leeway is zero.
	DefaultLeeway = 5 * time.Second
	// MaxLeeway is the largest Config.Leeway; larger values are clamped.
	MaxLeeway = time.Minute
	// DefaultAccessTokenTTL is the access-token lifetime assumed when
	// Config.AccessTokenTTL is zero (the service's ACCESS_TOKEN_TTL default).
	DefaultAccessTokenTTL = 15 * time.Minute
	// DefaultRefreshInterval is how often the key set is fetched again when
	// Config.RefreshInterval is zero: a key the service retired stops
	// verifying within this time.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultUnknownKIDRefresh is the least time between two fetches caused
	// by tokens naming an unknown kid when Config.UnknownKIDRefresh is zero.
	DefaultUnknownKIDRefresh = 30 * time.Second
	// DefaultHTTPTimeout bounds one fetch of the key set when
	// Config.HTTPTimeout is zero.
	DefaultHTTPTimeout = 5 * time.Second
)

// TypeAccess is the typ header of the service's access tokens (RFC 9068).
const TypeAccess = "at+jwt"

// maxTokenLen bounds a token before it is parsed, as the service does.
const maxTokenLen = 4096

// unknownKIDWait is the longest Verify waits for the unknown-kid rate limit
// before it refuses the token; it also bounds that refresh's fetch. A flood
// of tokens with made-up kids therefore costs at most one fetch per
// UnknownKIDRefresh and never holds a request for long.
const unknownKIDWait = 2 * time.Second

// ErrInvalidToken is wrapped by every error Verify returns: the token is
// missing, malformed, wrongly signed, expired, not meant for this audience
// or revoked. The error's text names the reason in fixed words and never
// contains the token.
var ErrInvalidToken = errors.New("tokenverify: access token is invalid, expired or revoked")

// ErrRevoked is wrapped by Verify's error when an otherwise valid token
// belongs to a session or user that the followed events revoked; it wraps
// ErrInvalidToken.
var ErrRevoked = fmt.Errorf("revoked: %w", ErrInvalidToken)

// Config configures a Verifier. Only JWKSURL is required; the other fields
// default to the service's own defaults.
type Config struct {
	// JWKSURL is the service's key set, e.g.
	// https://users.internal/.well-known/jwks.json.
	JWKSURL string
	// Issuer is the iss a token must carry; empty means DefaultIssuer.
	Issuer string
	// Audience is the aud a token must carry; empty means DefaultAudience.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// DefaultLeeway, negative none, and it is clamped to MaxLeeway.
	Leeway time.Duration
	// AccessTokenTTL is the service's ACCESS_TOKEN_TTL: how long a revoked
	// session or user is remembered. It must not be shorter than the
	// service's setting; zero means DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// RefreshInterval is how often the key set is fetched again; zero means
	// DefaultRefreshInterval.
	RefreshInterval time.Duration
	// UnknownKIDRefresh is the least time between two fetches caused by a
	// token whose kid is not in the cached set (a freshly rotated key); zero
	// means DefaultUnknownKIDRefresh.
	UnknownKIDRefresh time.Duration
	// HTTPClient fetches the key set; nil means http.DefaultClient.
	HTTPClient *http.Client
	// HTTPTimeout bounds one fetch; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// StartWithoutKeys makes New succeed when the first fetch fails: every
	// token is then refused until a later fetch (on the timer or on an
	// unknown kid) succeeds. By default New fails, so a misconfigured URL is
	// seen at start-up.
	StartWithoutKeys bool
	// Revocations, when not nil, follows the service's session and user
	// events on NATS JetStream so that revoked sessions and disabled or
	// deleted users are refused at once.
	Revocations *Revocations
	// Logger receives key-set fetch failures and unreadable events; nil
	// means slog.Default().
	Logger *slog.Logger
	// Now is the clock that exp, nbf, iat and revocations are checked
	// against; nil means time.Now. Tests set it.
	Now func() time.Time
	// RequestID names the request in a 401 problem document (its
	// request_id); nil means the X-Request-ID already set on the response,
	// else a well-formed one of the request, else a new one (then also set
	// as the response's X-Request-ID), as the service does.
	RequestID func(w http.ResponseWriter, r *http.Request) string
}

// Principal is who a verified access token acts for.
type Principal struct {
	// UserID is the user's id (the sub claim), a UUID in canonical form.
	UserID string
	// SessionID is the session's id (the sid claim), a UUID in canonical
	// form.
	SessionID string
	// TokenID is the token's jti.
	TokenID string
	// IssuedAt and ExpiresAt are the token's iat and exp.
	IssuedAt, ExpiresAt time.Time
}

// Verifier checks the service's access tokens. It is safe for concurrent
// use; Close stops its background work.
type Verifier struct {
	cfg     Config
	log     *slog.Logger
	keys    keyfunc.Keyfunc
	parser  *jwt.Parser
	revoked *revocationSet
	follow  *follower
	cancel  context.CancelFunc
}

// New fetches the key set once (failing unless Config.StartWithoutKeys) and
// returns a Verifier that refreshes it every RefreshInterval and, at most
// once per UnknownKIDRefresh, when a token names an unknown kid. With
// Config.Revocations it also connects to NATS and reads the revocation events
// of the last AccessTokenTTL before it returns, so that sessions revoked
// before this process started are refused too. ctx bounds this start-up and,
// when it ends, stops the background work as Close does.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.JWKSURL == "" {
		return nil, errors.New("tokenverify: Config.JWKSURL is required")
	}
	cfg = withDefaults(cfg)
	log := cfg.Logger
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v := &Verifier{cfg: cfg, log: log, cancel: cancel}

	noError := cfg.StartWithoutKeys
	kf, err := keyfunc.NewDefaultOverrideCtx(runCtx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    cfg.HTTPClient,
		HTTPTimeout:               cfg.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: &noError,
		RateLimitWaitMax:          unknownKIDWait,
		RefreshInterval:           cfg.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(cfg.UnknownKIDRefresh), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "tokenverify: fetching the key set failed", "url", u, "err", err.Error())
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tokenverify: fetch the key set: %w", err)
	}
	// Only keys meant for signatures verify; the storage is keyfunc's own.
	v.keys, err = keyfunc.New(keyfunc.Options{Ctx: runCtx, Storage: kf.Storage(), UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("tokenverify: %w", err)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	if cfg.Revocations != nil {
		v.revoked = newRevocationSet(cfg.AccessTokenTTL+cfg.Leeway, cfg.Revocations.MaxEntries)
		v.follow, err = follow(ctx, runCtx, *cfg.Revocations, v.revoked, cfg, log)
		if err != nil {
			cancel()
			return nil, err
		}
	}
	return v, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	cfg.Leeway = min(cfg.Leeway, MaxLeeway)
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.UnknownKIDRefresh <= 0 {
		cfg.UnknownKIDRefresh = DefaultUnknownKIDRefresh
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Close stops refreshing the key set and following events, and closes the
// NATS connection if the Verifier opened it. Verify keeps working on the
// keys and revocations it already has.
func (v *Verifier) Close() {
	if v.follow != nil {
		v.follow.stop()
	}
	v.cancel()
}

// claims is the claim set of an access token.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Reasons a key cannot be chosen; they stay inside this package.
var (
	errWrongType = errors.New("wrong typ")
	errCritical  = errors.New("unsupported crit header")
	errNoKID     = errors.New("no kid")
)

// Verify checks raw, an access token without its "Bearer " prefix: an EdDSA
// signature by a key of the service's key set named by kid, typ at+jwt,
// iss, aud, exp, nbf and iat (within the leeway), a UUID sub and sid and a
// jti, and, with Config.Revocations, that neither its session nor its user
// was revoked since. ctx bounds a key-set fetch that an unknown kid may
// cause. Any failure returns an error wrapping ErrInvalidToken (and
// ErrRevoked for a revocation) that names the reason but never the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" || len(raw) > maxTokenLen {
		return Principal{}, rejected("empty or too long")
	}
	keyOf := v.keys.KeyfuncCtx(ctx)
	var c claims
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !isType(typ, TypeAccess) {
			return nil, errWrongType
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical // RFC 7515 4.1.11: no extension is understood
		}
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errNoKID // keyfunc would otherwise try every key
		}
		return keyOf(t)
	})
	if err != nil {
		return Principal{}, rejected(reason(err))
	}
	if c.IssuedAt == nil {
		return Principal{}, rejected("required claim missing")
	}
	if !isUUID(c.Subject) || !isUUID(c.SessionID) || c.ID == "" {
		return Principal{}, rejected("subject, session or token id malformed")
	}
	p := Principal{
		UserID:    c.Subject,
		SessionID: c.SessionID,
		TokenID:   c.ID,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}
	if v.revoked != nil {
		if why := v.revoked.refuses(p, v.cfg.Now(), v.cfg.Leeway); why != "" {
			return Principal{}, fmt.Errorf("tokenverify: access token rejected, %s: %w", why, ErrRevoked)
		}
	}
	return p, nil
}

// isType reports whether a typ header names want; media types compare
// case-insensitively and may carry the "application/" prefix (RFC 7515
// 4.1.9), as the service accepts them.
func isType(typ, want string) bool {
	typ = strings.ToLower(typ)
	return typ == want || typ == "application/"+want
}

// isUUID reports whether s is a UUID other than the nil UUID in the
// canonical lower-case 8-4-4-4-12 form the service writes.
func isUUID(s string) bool {
	if len(s) != 36 || s == "00000000-0000-0000-0000-000000000000" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
				return false
			}
		}
	}
	return true
}

// reason names why jwt refused a token in fixed words, so that no part of
// the token (which jwt's own messages can quote) reaches an error.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		text string
	}{
		{errWrongType, "wrong token type"},
		{errCritical, "unsupported critical header"},
		{errNoKID, "no key id"},
		{jwkset.ErrKeyNotFound, "signed by a key that is not in the key set"},
		{keyfunc.ErrKeyfunc, "signed by a key that is not in the key set"},
		{jwt.ErrTokenMalformed, "malformed"},
		{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
		{jwt.ErrTokenExpired, "expired"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
	} {
		if errors.Is(err, r.err) {
			return r.text
		}
	}
	return "invalid"
}

func rejected(why string) error {
	return fmt.Errorf("tokenverify: access token rejected, %s: %w", why, ErrInvalidToken)
}
