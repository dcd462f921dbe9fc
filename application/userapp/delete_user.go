package userapp

import (
	"context"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// DeleteUser lets an operator delete an account, exactly as its owner would.
type DeleteUser struct{ account *DeleteAccount }

// Do deletes user uid the way DeleteAccount does, with the same events (one
// session.revoked (account_deleted) per session it ended, then
// user.deleted) in one transaction. It fails with user.ErrNotFound for an
// unknown user.
func (uc *DeleteUser) Do(ctx context.Context, uid user.ID) error {
	return uc.account.Do(ctx, ports.Principal{UserID: uuid.UUID(uid)})
}
