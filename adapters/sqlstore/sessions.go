package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// Sessions keeps sessions and their refresh-token state in the sessions
// table. Every write but Start is a single conditional statement, and Start
// serialises per user, so each is race-safe between goroutines and between
// servers sharing the database. On
// PostgreSQL a write under a context deadline is fenced: the server refuses
// it once the deadline has passed, so a write whose caller already failed
// never lands later.
type Sessions struct {
	db  *gorm.DB
	rev *Revocations
	// rotate and rotateFenced are Rotate's statement, without and with the
	// write fence's predicate, bound once (rawStatement): every refresh
	// runs one.
	rotate, rotateFenced rawStatement
}

var _ userports.Sessions = (*Sessions)(nil)

// NewSessions returns the sessions store on db, the handle Open returned. Its
// calls join the transaction of a context that Transactor.Atomically gave out.
// Every session it ends is announced through rev: to this process when the
// ending commits, and on PostgreSQL to every instance by a notification sent
// inside the ending statement.
func NewSessions(db *gorm.DB, rev *Revocations) *Sessions {
	return &Sessions{
		db:           db,
		rev:          rev,
		rotate:       bindRaw(db, rotateQuery+" RETURNING "+sessionColumns, rotateArgs),
		rotateFenced: bindRaw(db, rotateQuery+" AND clock_timestamp() <= ? RETURNING "+sessionColumns, rotateArgs+1),
	}
}

// rotateQuery is Rotate's UPDATE up to its optional fence predicate; it
// takes rotateArgs arguments.
const rotateQuery = "UPDATE sessions SET previous_refresh_id = refresh_id, refresh_id = ?, refresh_issued_at = ?, refresh_expires_at = ?, rotated_at = ?," +
	" last_used_at = ?, ip = ?, user_agent = ?" +
	" WHERE id = ? AND refresh_id = ? AND " + liveAt

const rotateArgs = 11

// Start inserts s and, in the same transaction, revokes the user's least
// recently used live sessions beyond limit - 1 (see end), so that with s at
// most limit are live; it returns the ids it revoked. On PostgreSQL it first
// locks the user's row (FOR NO KEY UPDATE, which leaves the foreign-key
// checks of other tables alone), so concurrent Starts for one user, on any
// number of servers, run one after another and each sees the sessions the
// one before it committed; on SQLite the IMMEDIATE transaction serialises
// them. It fails with user.ErrNotFound when s.UserID names no user (the
// user was deleted meanwhile), with user.ErrAccountDisabled when the user
// is disabled, and with an error wrapping
// ports.ErrUnavailable when the database cannot be reached or ctx's
// deadline passes first (then nothing is stored and nothing revoked).
func (s *Sessions) Start(ctx context.Context, sess user.Session, limit int) (evicted []user.SessionID, err error) {
	row := toSessionRow(sess)
	err = inTx(ctx, s.db, func(ctx context.Context) error {
		db := conn(ctx, s.db)
		// The user's row is read inside the transaction (under the lock on
		// PostgreSQL; SQLite's IMMEDIATE transaction has every writer wait),
		// so an account disabled meanwhile starts no session: disabling
		// takes the row lock too and revokes every session it sees.
		lock := ""
		if s.rev.postgres {
			lock = " FOR NO KEY UPDATE"
		}
		var found []struct{ DisabledAt *time.Time }
		err := db.Raw("SELECT disabled_at FROM users WHERE id = ?"+lock, sess.UserID.String()).Scan(&found).Error
		if err != nil {
			return translate(err)
		}
		switch {
		case len(found) == 0:
			return user.ErrNotFound
		case found[0].DisabledAt != nil:
			return user.ErrAccountDisabled
		}
		if limit > 0 {
			at := dbTime(sess.CreatedAt)
			all := "LIMIT -1"
			if s.rev.postgres {
				all = "LIMIT ALL"
			}
			// The newest limit-1 by last use stay; the rest make room.
			evicted, err = s.endNow(ctx, at, "id IN (SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL"+
				" AND expires_at > ? AND refresh_expires_at > ? ORDER BY last_used_at DESC, created_at DESC, id DESC "+all+" OFFSET ?)",
				sess.UserID.String(), at, at, limit-1)
			if err != nil {
				return err
			}
		}
		err = db.Create(&row).Error
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
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// sessionColumns are the sessions columns, for RETURNING.
const sessionColumns = "id, user_id, created_at, expires_at, refresh_id, refresh_issued_at, refresh_expires_at, previous_refresh_id, rotated_at, revoked_at, last_used_at, ip, user_agent, name"

// liveAt is the condition, on two parameters (both the instant), of a session
// that is live then: not revoked, before its absolute end, its refresh token
// not expired.
const liveAt = "revoked_at IS NULL AND expires_at > ? AND refresh_expires_at > ?"

// Rotate makes next the current refresh token of session sid, and from its
// previous one, with now as the rotation time and last use and client as the
// device it is used from, in one conditional UPDATE ... RETURNING that
// matches only while from is still current and the session is not revoked
// and not expired at now. Of any number of concurrent Rotates with the same
// from, on any number of servers, exactly one matches and reports rotated,
// with the session as stored; the others read the session and report false.
// It fails with user.ErrSessionInvalid when the session does not exist.
//
// Under a context deadline on PostgreSQL the UPDATE also requires the
// server's clock to be before the deadline. When that alone kept it from
// matching (from is still current and the session live), Rotate fails with
// an error wrapping ports.ErrUnavailable, never "not rotated", which the
// caller would judge as a replayed token.
func (s *Sessions) Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time, client user.Client) (user.Session, bool, error) {
	now = dbTime(now)
	fence, fenced, err := writeDeadline(ctx, s.db)
	if err != nil {
		return user.Session{}, false, err
	}
	stmt := s.rotate
	args := []any{next.ID.String(), dbTime(next.IssuedAt), dbTime(next.ExpiresAt), now,
		now, ipColumn(client.IP), textColumn(client.UserAgent.String()),
		sid.String(), from.String(), now, now}
	if fenced {
		stmt = s.rotateFenced
		args = append(args, fence)
	}
	rows, err := readSessions(stmt.query(ctx, s.db, args...))
	if err != nil {
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

// List returns the sessions of user uid that are live at now, newest first
// (created_at, then id), in one statement served by the user_id index.
func (s *Sessions) List(ctx context.Context, uid user.ID, now time.Time) ([]user.Session, error) {
	at := dbTime(now)
	var rows []sessionRow
	err := conn(ctx, s.db).Where("user_id = ? AND "+liveAt, uid.String(), at, at).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]user.Session, 0, len(rows))
	for _, r := range rows {
		sess, err := r.toSession()
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// LastStarts returns, for each of uids that has any, the latest created_at
// among the sessions kept for it (ended ones too, until the clean-up
// removes them), in one statement served by the user_id index.
func (s *Sessions) LastStarts(ctx context.Context, uids []user.ID) (map[user.ID]time.Time, error) {
	out := make(map[user.ID]time.Time, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	ids := make([]string, len(uids))
	for i, id := range uids {
		ids[i] = id.String()
	}
	var rows []sessionRow
	if err := conn(ctx, s.db).Select("user_id, created_at").Where("user_id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		if r.UserID == nil {
			continue
		}
		uid, err := user.ParseID(*r.UserID)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: stored session has a malformed user id: %w", err)
		}
		if at := r.CreatedAt.UTC(); at.After(out[uid]) {
			out[uid] = at
		}
	}
	return out, nil
}

// Rename sets the name of session sid of user uid if it is live at now, in
// one conditional UPDATE ... RETURNING, and returns the session as stored.
// It fails with user.ErrSessionNotFound when no such live session exists,
// and, under a deadline on PostgreSQL, with an error wrapping
// ports.ErrUnavailable rather than rename after the deadline (inWriteTx).
func (s *Sessions) Rename(ctx context.Context, uid user.ID, sid user.SessionID, name user.SessionName, now time.Time) (user.Session, error) {
	at := dbTime(now)
	var rows []sessionRow
	err := inWriteTx(ctx, s.db, func(ctx context.Context) (err error) {
		rows, err = scanSessions(conn(ctx, s.db).Raw("UPDATE sessions SET name = ? WHERE id = ? AND user_id = ? AND "+liveAt+" RETURNING "+sessionColumns,
			textColumn(name.String()), sid.String(), uid.String(), at, at))
		return translate(err)
	})
	if err != nil {
		return user.Session{}, err
	}
	if len(rows) != 1 {
		return user.Session{}, user.ErrSessionNotFound
	}
	return rows[0].toSession()
}

// Revoke marks session sid of user uid revoked at now if it is live at now;
// otherwise (unknown, another user's, already revoked, expired) it fails
// with user.ErrSessionInvalid and changes nothing, so the first revocation
// time is kept. Under a context deadline on PostgreSQL it is fenced (see
// end): it fails with an error wrapping ports.ErrUnavailable rather than
// revoke after the deadline.
func (s *Sessions) Revoke(ctx context.Context, uid user.ID, sid user.SessionID, now time.Time) error {
	at := dbTime(now)
	ended, err := s.end(ctx, at, "id = ? AND user_id = ? AND expires_at > ? AND refresh_expires_at > ?", sid.String(), uid.String(), at, at)
	if err != nil {
		return err
	}
	if len(ended) == 0 {
		return user.ErrSessionInvalid
	}
	return nil
}

// RevokeOthers revokes, at now, every session of user uid that is live at
// now, except keep, and returns their ids.
func (s *Sessions) RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) ([]user.SessionID, error) {
	at := dbTime(now)
	return s.end(ctx, at, "user_id = ? AND id <> ? AND expires_at > ? AND refresh_expires_at > ?", uid.String(), keep.String(), at, at)
}

// RevokeAll revokes, at now, every session of user uid that is not yet
// revoked, expired ones included, and returns their ids. On PostgreSQL it
// first locks the user's row as Start does (FOR NO KEY UPDATE), so a Start
// concurrent with it waits for its transaction instead of committing a
// session it does not see: an account deletion (RevokeAll, then Delete)
// would leave such a session live with no user and no session.revoked, and
// the two taking their locks in opposite orders could deadlock. SQLite's
// IMMEDIATE transactions serialise them anyway.
func (s *Sessions) RevokeAll(ctx context.Context, uid user.ID, now time.Time) (ended []user.SessionID, err error) {
	err = inWriteTx(ctx, s.db, func(ctx context.Context) error {
		if s.rev.postgres {
			if err := conn(ctx, s.db).Exec("SELECT 1 FROM users WHERE id = ? FOR NO KEY UPDATE", uid.String()).Error; err != nil {
				return translate(err)
			}
		}
		ended, err = s.endNow(ctx, dbTime(now), "user_id = ?", uid.String())
		return err
	})
	return ended, err
}

// RemoveEnded deletes at most limit sessions whose end (the earliest of
// their absolute end, their refresh token's expiry and their revocation) is
// before cutoff, in one DELETE served by sessions_ended_at_idx, and returns
// how many it deleted. On PostgreSQL it picks the rows with FOR UPDATE SKIP
// LOCKED, so concurrent calls on several servers delete disjoint batches
// without waiting for one another; SQLite runs one writer at a time anyway.
// Under a deadline on PostgreSQL it is fenced: it fails with an error
// wrapping ports.ErrUnavailable, having deleted nothing, rather than commit
// after the deadline.
func (s *Sessions) RemoveEnded(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	q := "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions" +
		" WHERE min(expires_at, refresh_expires_at, COALESCE(revoked_at, '9999-12-31 23:59:59+00:00')) < ? LIMIT ?)"
	if s.rev.postgres {
		q = "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions" +
			" WHERE LEAST(expires_at, refresh_expires_at, COALESCE(revoked_at, 'infinity')) < ? LIMIT ? FOR UPDATE SKIP LOCKED)"
	}
	var removed int64
	err := inWriteTx(ctx, s.db, func(ctx context.Context) error {
		res := conn(ctx, s.db).Exec(q, dbTime(cutoff), limit)
		removed = res.RowsAffected
		return translate(res.Error)
	})
	if err != nil {
		return 0, err
	}
	return int(removed), nil
}

// end sets revoked_at = at on the sessions that match where and are not yet
// revoked, in one statement that returns their ids and, on PostgreSQL, sends
// one notification per ended session, delivered to every listening instance
// when the statement's transaction commits. The ids reach this process's
// Revocations when that transaction commits. Under a deadline the statement
// runs in a fenced transaction (inWriteTx), so a revocation whose request
// failed never lands later; it then fails with an error wrapping
// ports.ErrUnavailable and ends nothing.
func (s *Sessions) end(ctx context.Context, at time.Time, where string, args ...any) (ended []user.SessionID, err error) {
	err = inWriteTx(ctx, s.db, func(ctx context.Context) error {
		ended, err = s.endNow(ctx, at, where, args...)
		return err
	})
	return ended, err
}

func (s *Sessions) endNow(ctx context.Context, at time.Time, where string, args ...any) ([]user.SessionID, error) {
	update := "UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND " + where + " RETURNING id"
	query := update
	params := append([]any{at}, args...)
	if s.rev.postgres {
		query = "WITH ended AS (" + update + ") SELECT id FROM ended WHERE pg_notify(?, id::text)::text = ''"
		params = append(params, revocationChannel)
	}
	ids, err := scanIDs(conn(ctx, s.db).Raw(query, params...))
	if err != nil {
		return nil, translate(err)
	}
	ended := make([]user.SessionID, 0, len(ids))
	for _, id := range ids {
		sid, err := user.ParseSessionID(id)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: revoked session has a malformed id: %w", err)
		}
		ended = append(ended, sid)
	}
	if len(ended) > 0 {
		afterCommit(ctx, func() { s.rev.note(ended) })
	}
	return ended, nil
}

// scanSessions runs stmt, a raw statement that returns sessionColumns, and
// scans its rows by hand. GORM's DB.Scan, which the hot paths used before,
// renders every statement with its bound values into a string for a
// recorder, whether anything logs it or not: 8 % of a refresh's CPU in the
// profile of BenchmarkRefresh, plus its reflection. Rows keeps GORM's
// callbacks and logger.
func scanSessions(stmt *gorm.DB) ([]sessionRow, error) {
	return readSessions(stmt.Rows())
}

// readSessions reads the sessionColumns rows of a statement that returned
// rows and err.
func readSessions(rows *sql.Rows, err error) ([]sessionRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sessionRow
	for rows.Next() {
		var r sessionRow
		if err := rows.Scan(r.scanTargets()...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanIDs runs stmt, a raw statement that returns one text column, and
// returns its values (see scanSessions for why not DB.Scan).
func scanIDs(stmt *gorm.DB) ([]string, error) {
	rows, err := stmt.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
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
