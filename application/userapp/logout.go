package userapp

import (
	"context"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// LogOut ends the session of a refresh token.
type LogOut struct {
	sessions userports.Sessions
	tokens   userports.Tokens
	tx       ports.Transactor
	clock    ports.Clock
	log      *eventLog
}

// Do revokes the session that refreshToken belongs to, with its
// session.revoked (logout) event in the same transaction, and returns whose
// it was. It fails with user.ErrSessionInvalid when the token is invalid or
// its session is no longer live.
func (uc *LogOut) Do(ctx context.Context, refreshToken string) (ports.Principal, error) {
	claims, err := uc.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return ports.Principal{}, err
	}
	now := uc.clock.Now()
	err = uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := uc.sessions.Revoke(ctx, claims.UserID, claims.SessionID, now); err != nil {
			return err
		}
		return uc.log.record(ctx, sessionsRevoked(claims.UserID, []user.SessionID{claims.SessionID}, now, reasonLogout)...)
	})
	if err != nil {
		return ports.Principal{}, err
	}
	return ports.Principal{UserID: uuid.UUID(claims.UserID), SessionID: uuid.UUID(claims.SessionID)}, nil
}
