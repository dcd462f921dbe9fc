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
// between goroutines and between servers sharing the database.
type Sessions struct{ db *gorm.DB }

var _ ports.Sessions = (*Sessions)(nil)

// NewSessions returns the sessions store on db, the handle Open returned. Its
// calls join the transaction of a context that Transactor.Atomically gave out.
func NewSessions(db *gorm.DB) *Sessions { return &Sessions{db: db} }

// Start inserts s. It fails with user.ErrNotFound when s.UserID names no user
// (the user was deleted meanwhile), and with an error wrapping
// ports.ErrUnavailable when the database cannot be reached.
func (s *Sessions) Start(ctx context.Context, sess user.Session) error {
	row := toSessionRow(sess)
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
}

// Rotate makes next the current refresh token of session sid, and from its
// previous one, with now as the rotation time, in one conditional UPDATE that
// matches only while from is still current and the session is not revoked and
// not expired at now. Of any number of concurrent Rotates with the same from,
// on any number of servers, exactly one matches and reports rotated; the
// others report false. Either way Rotate then reads the session back and
// returns it as stored. It fails with user.ErrSessionInvalid when the session
// does not exist.
func (s *Sessions) Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time) (user.Session, bool, error) {
	now = dbTime(now)
	res := conn(ctx, s.db).Model(&sessionRow{}).
		Where("id = ? AND refresh_id = ? AND revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?",
			sid.String(), from.String(), now, now).
		Updates(map[string]any{
			"previous_refresh_id": gorm.Expr("refresh_id"),
			"refresh_id":          next.ID.String(),
			"refresh_issued_at":   dbTime(next.IssuedAt),
			"refresh_expires_at":  dbTime(next.ExpiresAt),
			"rotated_at":          now,
		})
	if res.Error != nil {
		return user.Session{}, false, translate(res.Error)
	}
	sess, err := s.byID(ctx, sid)
	if err != nil {
		return user.Session{}, false, err
	}
	return sess, res.RowsAffected == 1, nil
}

// Revoke marks session sid revoked at now if it is live at now; otherwise
// (unknown, already revoked, expired) it fails with user.ErrSessionInvalid
// and changes nothing, so the first revocation time is kept.
func (s *Sessions) Revoke(ctx context.Context, sid user.SessionID, now time.Time) error {
	at := dbTime(now)
	res := conn(ctx, s.db).Model(&sessionRow{}).
		Where("id = ? AND revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?", sid.String(), at, at).
		Update("revoked_at", at)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return user.ErrSessionInvalid
	}
	return nil
}

// RevokeOthers revokes, at now, every session of user uid that is not yet
// revoked, except keep.
func (s *Sessions) RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) error {
	err := conn(ctx, s.db).Model(&sessionRow{}).
		Where("user_id = ? AND id <> ? AND revoked_at IS NULL", uid.String(), keep.String()).
		Update("revoked_at", dbTime(now)).Error
	return translate(err)
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
