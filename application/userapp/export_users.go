package userapp

import (
	"context"
	"fmt"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// exportBatch is how many users ExportUsers reads per query.
const exportBatch = 500

// ExportUsers hands every account to an operator's export, in username
// order.
type ExportUsers struct{ users userports.Users }

// Do calls emit with every user, by username ignoring case, reading them a
// page at a time (each page its own statement, so a long export holds no
// transaction open), and stops at emit's first error, returning it. A user
// added during the export is emitted when its username sorts after the
// current page.
func (uc *ExportUsers) Do(ctx context.Context, emit func(*user.User) error) error {
	q := userports.UserQuery{Limit: exportBatch}
	for {
		users, err := uc.users.List(ctx, q)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, u := range users {
			if err := emit(u); err != nil {
				return err
			}
		}
		if len(users) < exportBatch {
			return nil
		}
		q.After = users[len(users)-1].Username().Key()
	}
}
