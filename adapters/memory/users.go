package memory

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// UserStore holds the user context's tables, users and sessions, on a DB.
// Its Users and Sessions share them; both are safe for concurrent use.
type UserStore struct {
	db *DB
	st userState
}

// userState is the user context's state. Its values hold no pointers, so a
// shallow copy of the maps is a full snapshot.
type userState struct {
	users    map[user.ID]userRec
	keys     map[string]user.ID // Username.Key -> owner: the unique index
	sessions map[user.SessionID]user.Session
}

func (s *UserStore) snapshot() (restore func()) {
	saved := userState{users: maps.Clone(s.st.users), keys: maps.Clone(s.st.keys), sessions: maps.Clone(s.st.sessions)}
	return func() { s.st = saved }
}

// NewUserStore adds the user context's tables to db. Like the SQL schema,
// deleting a user keeps its sessions as ended tombstones with no user and
// nothing personal (no client, no name).
func NewUserStore(db *DB) *UserStore {
	s := &UserStore{db: db, st: userState{
		users:    make(map[user.ID]userRec),
		keys:     make(map[string]user.ID),
		sessions: make(map[user.SessionID]user.Session),
	}}
	db.define(s, map[string]func(uuid.UUID) bool{
		"users": func(key uuid.UUID) bool { _, ok := s.st.users[user.ID(key)]; return ok },
	})
	db.references("users", func(key uuid.UUID) {
		for sid, sess := range s.st.sessions {
			if sess.UserID == user.ID(key) {
				sess.UserID, sess.Client, sess.Name = user.ID{}, user.Client{}, user.SessionName{}
				s.st.sessions[sid] = sess
			}
		}
	})
	return s
}

// Users returns the store's userports.Users.
func (s *UserStore) Users() *Users { return &Users{s: s} }

// Sessions returns the store's userports.Sessions.
func (s *UserStore) Sessions() *Sessions { return &Sessions{s: s} }

// Revocations returns the store's ports.Revocations.
func (s *UserStore) Revocations() *Revocations { return &Revocations{s: s} }

// userRec is a stored user: the entity's fields as values, so the store
// never shares memory with a *user.User it was given or handed out.
type userRec struct {
	id               user.ID
	name             user.Username
	hash             user.PasswordHash
	full             user.FullName
	created, updated time.Time
	disabled         user.Disablement
}

func toRec(u *user.User) userRec {
	return userRec{
		id: u.ID(), name: u.Username(), hash: u.PasswordHash(), full: u.FullName(),
		created: norm(u.CreatedAt()), updated: norm(u.UpdatedAt()), disabled: normDisablement(u.Disablement()),
	}
}

func normDisablement(d user.Disablement) user.Disablement {
	if d.Disabled() {
		d.At = norm(d.At)
	}
	return d
}

func (r userRec) toUser() *user.User {
	return user.Restore(r.id, r.name, r.hash, r.full, r.created, r.updated, r.disabled)
}

// Users keeps accounts with the semantics of userports.Users.
type Users struct{ s *UserStore }

var _ userports.Users = (*Users)(nil)

// Add stores a copy of u. It fails with user.ErrUsernameTaken when another
// account holds u's Username.Key.
func (r *Users) Add(ctx context.Context, u *user.User) error {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	if _, taken := st.keys[u.Username().Key()]; taken {
		return user.ErrUsernameTaken
	}
	if _, exists := st.users[u.ID()]; exists {
		return errors.New("memory: user id already exists")
	}
	st.users[u.ID()] = toRec(u)
	st.keys[u.Username().Key()] = u.ID()
	return nil
}

// ByUsername returns a copy of the user whose Username.Key is name.Key(), or
// user.ErrNotFound.
func (r *Users) ByUsername(ctx context.Context, name user.Username) (*user.User, error) {
	defer r.s.db.lock(ctx)()
	id, ok := r.s.st.keys[name.Key()]
	if !ok {
		return nil, user.ErrNotFound
	}
	return r.s.st.users[id].toUser(), nil
}

// ByID returns a copy of user id, or user.ErrNotFound.
func (r *Users) ByID(ctx context.Context, id user.ID) (*user.User, error) {
	defer r.s.db.lock(ctx)()
	rec, ok := r.s.st.users[id]
	if !ok {
		return nil, user.ErrNotFound
	}
	return rec.toUser(), nil
}

// List returns at most q.Limit copies of the users matching q, ordered by
// Username.Key.
func (r *Users) List(ctx context.Context, q userports.UserQuery) ([]*user.User, error) {
	defer r.s.db.lock(ctx)()
	keys := slices.Sorted(maps.Keys(r.s.st.keys))
	var out []*user.User
	for _, k := range keys {
		if len(out) == q.Limit {
			break
		}
		rec := r.s.st.users[r.s.st.keys[k]]
		switch {
		case !strings.HasPrefix(k, q.Prefix), k <= q.After,
			q.State == userports.StateActive && rec.disabled.Disabled(),
			q.State == userports.StateDisabled && !rec.disabled.Disabled():
			continue
		}
		out = append(out, rec.toUser())
	}
	return out, nil
}

// Update applies change to a copy of user id and stores the result only if
// change succeeds and the new username's key is free; the store's lock is
// held throughout, so concurrent Updates serialise. It fails with
// user.ErrNotFound, change's own error, or user.ErrUsernameTaken. change must
// not call the store.
func (r *Users) Update(ctx context.Context, id user.ID, change func(*user.User) error) error {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	old, ok := st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	u := old.toUser()
	if err := change(u); err != nil {
		return err
	}
	key := u.Username().Key()
	if owner, taken := st.keys[key]; taken && owner != id {
		return user.ErrUsernameTaken
	}
	delete(st.keys, old.name.Key())
	st.keys[key] = id
	st.users[id] = toRec(u)
	return nil
}

// Delete removes user id, and through the DB's cascades what refers to it
// (its chats; its sessions lose their user), or fails with
// user.ErrNotFound.
func (r *Users) Delete(ctx context.Context, id user.ID) error {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	rec, ok := st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	delete(st.users, id)
	delete(st.keys, rec.name.Key())
	r.s.db.deleted("users", uuid.UUID(id))
	return nil
}

// Sessions keeps sessions with the semantics of userports.Sessions.
type Sessions struct{ s *UserStore }

var _ userports.Sessions = (*Sessions)(nil)

// Start stores sess and revokes the user's least recently used live
// sessions so that, with sess, at most limit are live (limit < 1: no
// limit), and returns the ids it revoked. It fails with user.ErrNotFound
// when sess.UserID names no user. The store's lock makes it atomic.
func (r *Sessions) Start(ctx context.Context, sess user.Session, limit int) ([]user.SessionID, error) {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	owner, ok := st.users[sess.UserID]
	if !ok {
		return nil, user.ErrNotFound
	}
	if owner.disabled.Disabled() {
		return nil, user.ErrAccountDisabled
	}
	if _, exists := st.sessions[sess.ID]; exists {
		return nil, errors.New("memory: session already exists")
	}
	var evicted []user.SessionID
	if limit > 0 {
		live := r.s.liveOf(sess.UserID, norm(sess.CreatedAt))
		slices.SortFunc(live, func(a, b user.Session) int { // most recently used first
			return cmp.Or(b.LastUsedAt.Compare(a.LastUsedAt), b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
		})
		for _, old := range live[min(limit-1, len(live)):] {
			old.RevokedAt = norm(sess.CreatedAt)
			st.sessions[old.ID] = old
			evicted = append(evicted, old.ID)
		}
	}
	st.sessions[sess.ID] = normSession(sess)
	return evicted, nil
}

// Rotate makes next the current refresh token of session sid and from its
// previous one, at now, recording now as its last use and client, only if
// from is current and the session is live at now. It returns the session as
// stored afterwards and whether it rotated, or user.ErrSessionInvalid for an
// unknown session.
func (r *Sessions) Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time, client user.Client) (user.Session, bool, error) {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	sess, ok := st.sessions[sid]
	if !ok {
		return user.Session{}, false, user.ErrSessionInvalid
	}
	now = norm(now)
	if sess.Current.ID != from || !sess.Live(now) {
		return sess, false, nil
	}
	sess.Previous = sess.Current.ID
	sess.Current = user.RefreshToken{ID: next.ID, IssuedAt: norm(next.IssuedAt), ExpiresAt: norm(next.ExpiresAt)}
	sess.RotatedAt = now
	sess.LastUsedAt = now
	sess.Client = client
	st.sessions[sid] = sess
	return sess, true, nil
}

// List returns the sessions of user uid that are live at now, newest
// (CreatedAt, then id) first.
func (r *Sessions) List(ctx context.Context, uid user.ID, now time.Time) ([]user.Session, error) {
	defer r.s.db.lock(ctx)()
	live := r.s.liveOf(uid, norm(now))
	slices.SortFunc(live, func(a, b user.Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), compareIDs(b.ID, a.ID))
	})
	return live, nil
}

// LastStarts returns the latest CreatedAt of the kept sessions of each of
// uids that has any.
func (r *Sessions) LastStarts(ctx context.Context, uids []user.ID) (map[user.ID]time.Time, error) {
	defer r.s.db.lock(ctx)()
	out := make(map[user.ID]time.Time, len(uids))
	for _, sess := range r.s.st.sessions {
		if slices.Contains(uids, sess.UserID) && sess.CreatedAt.After(out[sess.UserID]) {
			out[sess.UserID] = sess.CreatedAt
		}
	}
	return out, nil
}

// Rename names session sid of user uid if it is live at now and returns it,
// or fails with user.ErrSessionNotFound.
func (r *Sessions) Rename(ctx context.Context, uid user.ID, sid user.SessionID, name user.SessionName, now time.Time) (user.Session, error) {
	defer r.s.db.lock(ctx)()
	sess, ok := r.s.st.sessions[sid]
	if !ok || sess.UserID != uid || !sess.Live(norm(now)) {
		return user.Session{}, user.ErrSessionNotFound
	}
	sess.Name = name
	r.s.st.sessions[sid] = sess
	return sess, nil
}

// Revoke marks session sid of user uid revoked at now if it is live at now;
// otherwise (unknown, another user's, already revoked, expired) it fails
// with user.ErrSessionInvalid and changes nothing, so the first revocation
// time is kept.
func (r *Sessions) Revoke(ctx context.Context, uid user.ID, sid user.SessionID, now time.Time) error {
	defer r.s.db.lock(ctx)()
	st := &r.s.st
	sess, ok := st.sessions[sid]
	if !ok || sess.UserID != uid || !sess.Live(norm(now)) {
		return user.ErrSessionInvalid
	}
	sess.RevokedAt = norm(now)
	st.sessions[sid] = sess
	return nil
}

// RevokeOthers marks every session of user uid that is live at now, except
// keep, revoked at now, and returns their ids.
func (r *Sessions) RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) ([]user.SessionID, error) {
	defer r.s.db.lock(ctx)()
	at := norm(now)
	return r.s.revokeWhere(func(sid user.SessionID, sess user.Session) bool {
		return sess.UserID == uid && sid != keep && sess.Live(at)
	}, now), nil
}

// RevokeAll marks every not yet revoked session of user uid revoked at now,
// and returns their ids.
func (r *Sessions) RevokeAll(ctx context.Context, uid user.ID, now time.Time) ([]user.SessionID, error) {
	defer r.s.db.lock(ctx)()
	return r.s.revokeWhere(func(_ user.SessionID, sess user.Session) bool { return sess.UserID == uid }, now), nil
}

// RemoveEnded deletes at most limit sessions whose end (absolute end,
// refresh expiry or revocation, whichever came first) is before cutoff, and
// returns how many it deleted.
func (r *Sessions) RemoveEnded(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	defer r.s.db.lock(ctx)()
	removed := 0
	for sid, sess := range r.s.st.sessions {
		if removed == limit {
			break
		}
		end := sess.LiveUntil()
		if !sess.RevokedAt.IsZero() && sess.RevokedAt.Before(end) {
			end = sess.RevokedAt
		}
		if end.Before(cutoff) {
			delete(r.s.st.sessions, sid)
			removed++
		}
	}
	return removed, nil
}

// liveOf returns the sessions of uid live at now; the lock is held.
func (s *UserStore) liveOf(uid user.ID, now time.Time) []user.Session {
	var live []user.Session
	for _, sess := range s.st.sessions {
		if sess.UserID == uid && sess.Live(now) {
			live = append(live, sess)
		}
	}
	return live
}

func compareIDs(a, b user.SessionID) int { return slices.Compare(a[:], b[:]) }

// revokeWhere revokes the not yet revoked sessions that match; the lock is
// held.
func (s *UserStore) revokeWhere(match func(user.SessionID, user.Session) bool, now time.Time) []user.SessionID {
	var ended []user.SessionID
	for sid, sess := range s.st.sessions {
		if match(sid, sess) && sess.RevokedAt.IsZero() {
			sess.RevokedAt = norm(now)
			s.st.sessions[sid] = sess
			ended = append(ended, sid)
		}
	}
	return ended
}

// Revocations answers ports.Revocations from the store's sessions.
type Revocations struct{ s *UserStore }

var _ ports.Revocations = (*Revocations)(nil)

// Ended reports whether p's session is revoked, unknown or another user's.
func (r *Revocations) Ended(ctx context.Context, p ports.Principal) (bool, error) {
	defer r.s.db.lock(ctx)()
	sess, ok := r.s.st.sessions[user.SessionID(p.SessionID)]
	return !ok || sess.UserID != user.ID(p.UserID) || !sess.RevokedAt.IsZero(), nil
}

func normSession(s user.Session) user.Session {
	s.CreatedAt = norm(s.CreatedAt)
	s.ExpiresAt = norm(s.ExpiresAt)
	s.Current.IssuedAt = norm(s.Current.IssuedAt)
	s.Current.ExpiresAt = norm(s.Current.ExpiresAt)
	s.RotatedAt = norm(s.RotatedAt)
	s.RevokedAt = norm(s.RevokedAt)
	s.LastUsedAt = norm(s.LastUsedAt)
	return s
}
