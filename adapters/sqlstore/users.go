package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// Users keeps accounts in the users table. It is safe for concurrent use.
type Users struct {
	db *gorm.DB
	// byID and byUsername are the hot reads (every GET /me, every login),
	// written out and bound once: see readUser.
	byID, byUsername rawStatement
}

var _ userports.Users = (*Users)(nil)

// NewUsers returns the users store on db, the handle Open returned. Its calls
// join the transaction of a context that Transactor.Atomically gave out.
func NewUsers(db *gorm.DB) *Users {
	return &Users{
		db:         db,
		byID:       bindRaw(db, "SELECT "+userColumns+" FROM users WHERE id = ? LIMIT 1", 1),
		byUsername: bindRaw(db, "SELECT "+userColumns+" FROM users WHERE username_key = ? LIMIT 1", 1),
	}
}

// Add inserts u. It fails with user.ErrUsernameTaken when the unique index on
// username_key already holds u's Username.Key (the database decides, so two
// concurrent Adds of one name cannot both succeed), and with an error wrapping
// ports.ErrUnavailable when the database cannot be reached or ctx's deadline
// passes first (then nothing is stored).
func (s *Users) Add(ctx context.Context, u *user.User) error {
	row := toUserRow(u)
	return inWriteTx(ctx, s.db, func(ctx context.Context) error {
		return userError(conn(ctx, s.db).Create(&row).Error)
	})
}

// ByUsername returns the user whose username_key is name.Key(), or
// user.ErrNotFound.
func (s *Users) ByUsername(ctx context.Context, name user.Username) (*user.User, error) {
	return s.readUser(ctx, s.byUsername, name.Key())
}

// ByID returns user id in one statement, or user.ErrNotFound.
func (s *Users) ByID(ctx context.Context, id user.ID) (*user.User, error) {
	return s.readUser(ctx, s.byID, id.String())
}

// readUser runs query, which selects userColumns of at most one user, and
// rebuilds that user. It runs as a rawStatement (on the transaction or pool
// GORM would use, reported to GORM's logger) and scans into the row's fields
// by hand: GORM's query builder and its reflective Scan were a third of GET
// /me's CPU outside the database round trip (CPU profile of BenchmarkGetMe).
func (s *Users) readUser(ctx context.Context, query rawStatement, arg string) (*user.User, error) {
	var row userRow
	err := query.queryRow(ctx, s.db, arg).Scan(row.scanTargets()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, user.ErrNotFound
	}
	if err != nil {
		return nil, userError(err)
	}
	return row.toUser()
}

// List returns at most q.Limit users whose username_key starts with
// q.Prefix and comes after q.After, in q.State, ordered by username_key,
// in one statement served by the unique index on username_key. q.Prefix
// holds only the characters of a username (userports.UserQuery), so it has
// no LIKE wildcard to escape.
func (s *Users) List(ctx context.Context, q userports.UserQuery) ([]*user.User, error) {
	db := conn(ctx, s.db).Order("username_key").Limit(q.Limit)
	if q.Prefix != "" {
		db = db.Where("username_key LIKE ?", q.Prefix+"%")
	}
	if q.After != "" {
		db = db.Where("username_key > ?", q.After)
	}
	switch q.State {
	case userports.StateActive:
		db = db.Where("disabled_at IS NULL")
	case userports.StateDisabled:
		db = db.Where("disabled_at IS NOT NULL")
	}
	var rows []userRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]*user.User, 0, len(rows))
	for _, r := range rows {
		u, err := r.toUser()
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// Update loads user id, applies change and writes the result, in one
// transaction (a savepoint when ctx already carries one). On PostgreSQL the
// row is read with SELECT ... FOR UPDATE, so concurrent Updates of one user
// run one after another, each seeing the last one's result; on SQLite the
// IMMEDIATE transaction serialises all writers. It fails with user.ErrNotFound
// for an unknown id, with change's own error (nothing stored) when change
// fails, and with user.ErrUsernameTaken when the new username's key belongs
// to another account, and with an error wrapping ports.ErrUnavailable
// (nothing stored) when ctx's deadline passes first. change must not call
// the store.
func (s *Users) Update(ctx context.Context, id user.ID, change func(*user.User) error) error {
	return inTx(ctx, s.db, func(ctx context.Context) error {
		db := conn(ctx, s.db)
		var row userRow
		err := db.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("id = ?", id.String()).Take(&row).Error
		if err != nil {
			return userError(err)
		}
		u, err := row.toUser()
		if err != nil {
			return err
		}
		if err := change(u); err != nil {
			return err
		}
		next := toUserRow(u)
		res := db.Model(&userRow{ID: row.ID}).
			Select("username", "username_key", "password_hash", "full_name", "updated_at", "disabled_at", "disabled_reason").
			Updates(&next)
		if res.Error != nil {
			return userError(res.Error)
		}
		if res.RowsAffected != 1 {
			return user.ErrNotFound
		}
		return nil
	})
}

// Delete removes user id. In the same transaction it first clears what its
// sessions say about the person (client IP, user agent, name), then deletes
// the row, and the foreign keys remove what belongs to it (ON DELETE
// CASCADE: its chats and their messages) and turn its sessions into
// tombstones (ON DELETE SET NULL on sessions.user_id), so the ended sessions
// stay known to every instance until the clean-up removes them, and carry
// nothing personal meanwhile. It fails with user.ErrNotFound when no such
// user exists, and with an error wrapping ports.ErrUnavailable (nothing
// removed) when ctx's deadline passes first.
func (s *Users) Delete(ctx context.Context, id user.ID) error {
	return inTx(ctx, s.db, func(ctx context.Context) error {
		db := conn(ctx, s.db)
		err := db.Exec("UPDATE sessions SET ip = NULL, user_agent = NULL, name = NULL WHERE user_id = ?", id.String()).Error
		if err != nil {
			return translate(err)
		}
		res := db.Where("id = ?", id.String()).Delete(&userRow{})
		if res.Error != nil {
			return userError(res.Error)
		}
		if res.RowsAffected == 0 {
			return user.ErrNotFound
		}
		return nil
	})
}

// userError gives an error of the users table its meaning in the user
// context: a missing row is user.ErrNotFound and a violation of usernameKey
// user.ErrUsernameTaken; anything else goes through translate.
func userError(err error) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return user.ErrNotFound
	case usernameKey.violatedBy(err):
		return user.ErrUsernameTaken
	}
	return translate(err)
}
