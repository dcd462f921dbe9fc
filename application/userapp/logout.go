package userapp

import (
	"context"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// LogOut ends the session of a refresh token.
type LogOut struct {
	sessions userports.Sessions
	tokens   userports.Tokens
	clock    ports.Clock
}

// Do revokes the session that refreshToken belongs to and returns whose it
// was. It fails with user.ErrSessionInvalid when the token is invalid or its
// session is no longer live.
func (uc *LogOut) Do(ctx context.Context, refreshToken string) (ports.Principal, error) {
	claims, err := uc.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return ports.Principal{}, err
	}
	if err := uc.sessions.Revoke(ctx, claims.SessionID, uc.clock.Now()); err != nil {
		return ports.Principal{}, err
	}
	return ports.Principal{UserID: uuid.UUID(claims.UserID), SessionID: uuid.UUID(claims.SessionID)}, nil
}
