package tokens

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

var (
	_ userports.Tokens     = (*Issuer)(nil)
	_ ports.AccessVerifier = (*Issuer)(nil)
)

// Header typ values of the two kinds of token.
const (
	// TypeAccess is the typ of access tokens (RFC 9068).
	TypeAccess = "at+jwt"
	// TypeRefresh is the typ of refresh tokens.
	TypeRefresh = "refresh+jwt"
)

// Defaults and bounds of Options.
const (
	// DefaultIssuer is the iss used when Options.Issuer is empty.
	DefaultIssuer = "usersvc"
	// DefaultAudience is the aud used when Options.Audience is empty.
	DefaultAudience = "usersvc"
	// DefaultAccessTTL is the access-token lifetime used when
	// Options.AccessTTL is not positive.
	DefaultAccessTTL = 15 * time.Minute
	// MaxLeeway is the largest clock skew a verifier tolerates.
	MaxLeeway = 5 * time.Second
)

// maxTokenLen bounds a token before it is parsed.
const maxTokenLen = 4096

// Options configures an Issuer.
type Options struct {
	// Issuer is the iss of every token and the only one accepted;
	// empty means DefaultIssuer.
	Issuer string
	// Audience is the aud of every token and the one required;
	// empty means DefaultAudience.
	Audience string
	// AccessTTL is the lifetime of access tokens whose claims give no
	// expiry; zero or less means DefaultAccessTTL.
	AccessTTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat, clamped to
	// [0, MaxLeeway].
	Leeway time.Duration
	// VerifiedCacheSize is how many verified access tokens VerifyAccess
	// remembers; 0 means DefaultVerifiedCacheSize, a negative value none.
	VerifiedCacheSize int
}

// Issuer signs and verifies access and refresh tokens with a Keyring. It
// implements userports.Tokens and ports.AccessVerifier and is safe for
// concurrent use.
type Issuer struct {
	keys            *Keyring
	clock           ports.Clock
	o               Options
	access, refresh *jwt.Parser
	verified        *verifiedCache
}

// NewIssuer returns an Issuer that signs with keys' newest key, verifies with
// any of them, and reads the time from clock. Zero Options fields take their
// defaults; Leeway is clamped to [0, MaxLeeway].
func NewIssuer(keys *Keyring, clock ports.Clock, o Options) *Issuer {
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	o.Leeway = min(max(o.Leeway, 0), MaxLeeway)
	common := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(clock.Now),
		jwt.WithStrictDecoding(),
	}
	if o.VerifiedCacheSize == 0 {
		o.VerifiedCacheSize = DefaultVerifiedCacheSize
	}
	return &Issuer{
		keys:     keys,
		clock:    clock,
		o:        o,
		access:   jwt.NewParser(append(common, jwt.WithNotBeforeRequired())...),
		refresh:  jwt.NewParser(common...),
		verified: newVerifiedCache(o.VerifiedCacheSize, o.Leeway),
	}
}

// AccessTTL returns the lifetime given to access tokens whose claims name no
// expiry (the API's expires_in).
func (i *Issuer) AccessTTL() time.Duration { return i.o.AccessTTL }

// claims is the fixed claim set of both kinds of token. A plain struct with
// whole-second integer times, rather than jwt.RegisteredClaims, so that its
// JSON encoding depends on no global setting of the jwt package: equal claims
// always sign to equal tokens. A zero time means the claim is absent.
type claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	SessionID string `json:"sid"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf,omitempty"`
	ExpiresAt int64  `json:"exp"`
}

var _ jwt.Claims = claims{}

func numericDate(sec int64) (*jwt.NumericDate, error) {
	if sec == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0)), nil
}

// GetExpirationTime implements jwt.Claims.
func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt) }

// GetIssuedAt implements jwt.Claims.
func (c claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt) }

// GetNotBefore implements jwt.Claims.
func (c claims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(c.NotBefore) }

// GetIssuer implements jwt.Claims.
func (c claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c claims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

// IssueAccess signs an access token (typ at+jwt) for c with iss, aud, sub,
// sid, jti, iat, nbf (= iat) and exp. A zero IssuedAt means the clock's now,
// a zero ExpiresAt means IssuedAt plus the access TTL, an empty TokenID a
// random one. It fails when the user or session id is the nil UUID or the
// expiry is not after the issue time. Times are kept to whole seconds.
func (i *Issuer) IssueAccess(c ports.AccessClaims) (string, error) {
	if c.Principal.UserID == uuid.Nil || c.Principal.SessionID == uuid.Nil {
		return "", errors.New("tokens: access token needs a user id and a session id")
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = i.clock.Now()
	}
	exp := c.ExpiresAt
	if exp.IsZero() {
		exp = iat.Add(i.o.AccessTTL)
	}
	if exp.Unix() <= iat.Unix() {
		return "", errors.New("tokens: access token would expire before it is issued")
	}
	jti := c.TokenID
	if jti == "" {
		jti = rand.Text()
	}
	return i.sign(TypeAccess, claims{
		Issuer:    i.o.Issuer,
		Subject:   c.Principal.UserID.String(),
		Audience:  i.o.Audience,
		SessionID: c.Principal.SessionID.String(),
		ID:        jti,
		IssuedAt:  iat.Unix(),
		NotBefore: iat.Unix(),
		ExpiresAt: exp.Unix(),
	})
}

// IssueRefresh signs a refresh token (typ refresh+jwt) for c with iss, aud,
// sub, sid, jti (c.Token.ID), iat (c.Token.IssuedAt) and exp
// (c.Token.ExpiresAt), to whole seconds. It is deterministic: the same claims
// and signing key give the byte-identical token, so a session's current token
// can be handed out again. It fails when an id is the nil UUID, a time is
// zero or the expiry is not after the issue time.
func (i *Issuer) IssueRefresh(c userports.RefreshClaims) (string, error) {
	t := c.Token
	if c.UserID == (user.ID{}) || c.SessionID == (user.SessionID{}) || t.ID == (user.TokenID{}) {
		return "", errors.New("tokens: refresh token needs a user, session and token id")
	}
	if t.IssuedAt.IsZero() || t.ExpiresAt.Unix() <= t.IssuedAt.Unix() {
		return "", errors.New("tokens: refresh token needs an issue time before its expiry")
	}
	return i.sign(TypeRefresh, claims{
		Issuer:    i.o.Issuer,
		Subject:   c.UserID.String(),
		Audience:  i.o.Audience,
		SessionID: c.SessionID.String(),
		ID:        t.ID.String(),
		IssuedAt:  t.IssuedAt.Unix(),
		ExpiresAt: t.ExpiresAt.Unix(),
	})
}

func (i *Issuer) sign(typ string, c claims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["typ"] = typ
	tok.Header["kid"] = i.keys.signer.kid
	s, err := tok.SignedString(i.keys.signer.priv)
	if err != nil {
		return "", fmt.Errorf("tokens: sign %s: %w", typ, err)
	}
	return s, nil
}

// VerifyAccess checks an access token: an EdDSA signature by a configured key
// named by kid, typ at+jwt, iss, aud, exp, nbf and iat (within the leeway),
// and well-formed sub, sid and jti. Any failure returns an error wrapping
// ports.ErrUnauthenticated that names the reason but never the token. A
// token that passed every check is remembered, by its exact text, until it
// expires, so the same token presented again costs no second signature
// check (see verifiedCache).
func (i *Issuer) VerifyAccess(token string) (ports.AccessClaims, error) {
	if claims, ok := i.verified.get(token, i.clock.Now()); ok {
		return claims, nil
	}
	c, err := i.verify(i.access, TypeAccess, token)
	if err != nil {
		return ports.AccessClaims{}, err
	}
	uid, sid, err := ids(c)
	if err != nil || c.ID == "" {
		return ports.AccessClaims{}, rejected(TypeAccess, "subject, session or token id malformed")
	}
	claims := ports.AccessClaims{
		Principal: ports.Principal{UserID: uuid.UUID(uid), SessionID: uuid.UUID(sid)},
		TokenID:   c.ID,
		IssuedAt:  time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt: time.Unix(c.ExpiresAt, 0).UTC(),
	}
	i.verified.put(token, claims, i.clock.Now())
	return claims, nil
}

// VerifyRefresh checks a refresh token like VerifyAccess, but with typ
// refresh+jwt, no nbf, and a jti that must be a UUID (the session's refresh
// token id). Any failure returns an error wrapping user.ErrSessionInvalid that
// never contains the token.
func (i *Issuer) VerifyRefresh(token string) (userports.RefreshClaims, error) {
	c, err := i.verify(i.refresh, TypeRefresh, token)
	if err != nil {
		return userports.RefreshClaims{}, err
	}
	uid, sid, err := ids(c)
	if err != nil {
		return userports.RefreshClaims{}, rejected(TypeRefresh, "subject or session id malformed")
	}
	tid, err := user.ParseTokenID(c.ID)
	if err != nil || tid == (user.TokenID{}) {
		return userports.RefreshClaims{}, rejected(TypeRefresh, "token id malformed")
	}
	return userports.RefreshClaims{
		UserID:    uid,
		SessionID: sid,
		Token: user.RefreshToken{
			ID:        tid,
			IssuedAt:  time.Unix(c.IssuedAt, 0).UTC(),
			ExpiresAt: time.Unix(c.ExpiresAt, 0).UTC(),
		},
	}, nil
}

// Reasons a key cannot be chosen; they stay inside this package.
var (
	errWrongType  = errors.New("wrong typ")
	errUnknownKey = errors.New("unknown kid")
	errCritical   = errors.New("unsupported crit header")
)

// verify parses token with parser, choosing the key by kid after checking
// that the header's typ is want.
func (i *Issuer) verify(parser *jwt.Parser, want, token string) (*claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, rejected(want, "empty or too long")
	}
	var c claims
	_, err := parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !isType(typ, want) {
			return nil, errWrongType
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical // RFC 7515 4.1.11: we understand no extension
		}
		kid, _ := t.Header["kid"].(string)
		pub, ok := i.keys.verifier(kid)
		if !ok {
			return nil, errUnknownKey
		}
		return pub, nil
	})
	if err != nil {
		return nil, rejected(want, reason(err))
	}
	if c.IssuedAt == 0 || c.ExpiresAt == 0 {
		return nil, rejected(want, "required claim missing")
	}
	return &c, nil
}

// isType reports whether a typ header names want; media types compare
// case-insensitively and may carry the "application/" prefix (RFC 7515 4.1.9).
func isType(typ, want string) bool {
	typ = strings.ToLower(typ)
	return typ == want || typ == "application/"+want
}

// ids reads the subject and the session id.
func ids(c *claims) (user.ID, user.SessionID, error) {
	uid, err := user.ParseID(c.Subject)
	if err != nil || uid == (user.ID{}) {
		return user.ID{}, user.SessionID{}, errors.New("bad sub")
	}
	sid, err := user.ParseSessionID(c.SessionID)
	if err != nil || sid == (user.SessionID{}) {
		return user.ID{}, user.SessionID{}, errors.New("bad sid")
	}
	return uid, sid, nil
}

// reason names why jwt refused a token in fixed words, so that no part of
// the token (which jwt's own messages can quote) reaches an error.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		text string
	}{
		{errWrongType, "wrong token type"},
		{errUnknownKey, "signed by a key that is not configured"},
		{errCritical, "unsupported critical header"},
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

// rejected is the error every verification failure returns: it wraps
// ports.ErrUnauthenticated for access tokens, which the platform's
// authenticator checks for every context, and user.ErrSessionInvalid for
// refresh tokens, which only the user context reads.
func rejected(kind, why string) error {
	sentinel := user.ErrSessionInvalid
	if kind == TypeAccess {
		sentinel = ports.ErrUnauthenticated
	}
	return fmt.Errorf("tokens: %s token rejected, %s: %w", kind, why, sentinel)
}
