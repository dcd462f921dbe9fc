package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Sessions keeps sessions and their refresh-token state in the sessions
// table. Every write is a single conditional statement, so it is race-safe
// between goroutines and between servers sharing the database. On
// PostgreSQL a write under a context deadline is fenced: the server refuses
// it once the deadline has passed, so a write whose caller already failed
// never lands later.
type Sessions struct{ db *gorm.DB }

var _ ports.Sessions = (*Sessions)(nil)

// NewSessions returns the sessions store on db, the handle Open returned. Its
// calls join the transaction of a context that Transactor.Atomically gave out.
func NewSessions(db *gorm.DB) *Sessions { return &Sessions{db: db} }

// Start inserts s. It fails with user.ErrNotFound when s.UserID names no user
// (the user was deleted meanwhile), and with an error wrapping
// ports.ErrUnavailable when the database cannot be reached or ctx's deadline
// passes first (then nothing is stored).
func (s *Sessions) Start(ctx context.Context, sess user.Session) error {
	row := toSessionRow(sess)
	return inWriteTx(ctx, s.db, func(ctx context.Context) error {
		err := conn(ctx, s.db).Create(&row).Error
		switch {
		case err == nil:
			return nil
		case isForeignKeyViolation(err):
			return user.ErrNotFound
		case isUniqueViolation(err):
			return fmt.Errorf("sqlstore: session %s already exists", sess.ID)
		}
		return translate(err)
	})
}

// sessionColumns are the sessions columns, for RETURNING.
const sessionColumns = "id, user_id, created_at, expires_at, refresh_id, refresh_issued_at, refresh_expires_at, previous_refresh_id, rotated_at, revoked_at"

// Rotate makes next the current refresh token of session sid, and from its
// previous one, with now as the rotation time, in one conditional UPDATE ...
// RETURNING that matches only while from is still current and the session is
// not revoked and not expired at now. Of any number of concurrent Rotates
// with the same from, on any number of servers, exactly one matches and
// reports rotated, with the session as stored; the others read the session
// and report false. It fails with user.ErrSessionInvalid when the session
// does not exist.
//
// Under a context deadline on PostgreSQL the UPDATE also requires the
// server's clock to be before the deadline. When that alone kept it from
// matching (from is still current and the session live), Rotate fails with
// an error wrapping ports.ErrUnavailable, never "not rotated", which the
// caller would judge as a replayed token.
func (s *Sessions) Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time) (user.Session, bool, error) {
	now = dbTime(now)
	fence, fenced, err := writeDeadline(ctx, s.db)
	if err != nil {
		return user.Session{}, false, err
	}
	q := "UPDATE sessions SET previous_refresh_id = refresh_id, refresh_id = ?, refresh_issued_at = ?, refresh_expires_at = ?, rotated_at = ?" +
		" WHERE id = ? AND refresh_id = ? AND revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?"
	args := []any{next.ID.String(), dbTime(next.IssuedAt), dbTime(next.ExpiresAt), now, sid.String(), from.String(), now, now}
	if fenced {
		q += " AND clock_timestamp() <= ?"
		args = append(args, fence)
	}
	var rows []sessionRow
	if err := conn(ctx, s.db).Raw(q+" RETURNING "+sessionColumns, args...).Scan(&rows).Error; err != nil {
		return user.Session{}, false, translate(err)
	}
	if len(rows) == 1 {
		sess, err := rows[0].toSession()
		if err != nil {
			return user.Session{}, false, err
		}
		return sess, true, nil
	}
	sess, err := s.byID(ctx, sid)
	if err != nil {
		return user.Session{}, false, err
	}
	if fenced && sess.Current.ID == from && sess.Live(now) {
		return user.Session{}, false, errFenced("rotating session " + sid.String())
	}
	return sess, false, nil
}

// Revoke marks session sid revoked at now if it is live at now; otherwise
// (unknown, already revoked, expired) it fails with user.ErrSessionInvalid
// and changes nothing, so the first revocation time is kept. Under a context
// deadline on PostgreSQL the UPDATE also requires the server's clock to be
// before the deadline; when that alone kept it from matching, Revoke fails
// with an error wrapping ports.ErrUnavailable.
func (s *Sessions) Revoke(ctx context.Context, sid user.SessionID, now time.Time) error {
	at := dbTime(now)
	fence, fenced, err := writeDeadline(ctx, s.db)
	if err != nil {
		return err
	}
	q := conn(ctx, s.db).Model(&sessionRow{}).
		Where("id = ? AND revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?", sid.String(), at, at)
	if fenced {
		q = q.Where("clock_timestamp() <= ?", fence)
	}
	res := q.Update("revoked_at", at)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if !fenced {
		return user.ErrSessionInvalid
	}
	sess, err := s.byID(ctx, sid)
	if err != nil {
		return err
	}
	if sess.Live(at) {
		return errFenced("revoking session " + sid.String())
	}
	return user.ErrSessionInvalid
}

// RevokeOthers revokes, at now, every session of user uid that is not yet
// revoked, except keep. It fails with an error wrapping ports.ErrUnavailable
// (nothing revoked) when the database cannot be reached or ctx's deadline
// passes first.
func (s *Sessions) RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) error {
	return inWriteTx(ctx, s.db, func(ctx context.Context) error {
		err := conn(ctx, s.db).Model(&sessionRow{}).
			Where("user_id = ? AND id <> ? AND revoked_at IS NULL", uid.String(), keep.String()).
			Update("revoked_at", dbTime(now)).Error
		return translate(err)
	})
}

// byID reads session sid, or fails with user.ErrSessionInvalid.
func (s *Sessions) byID(ctx context.Context, sid user.SessionID) (user.Session, error) {
	var row sessionRow
	err := conn(ctx, s.db).Where("id = ?", sid.String()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return user.Session{}, user.ErrSessionInvalid
	}
	if err != nil {
		return user.Session{}, translate(err)
	}
	return row.toSession()
}
