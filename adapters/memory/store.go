package memory

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// Store holds users and sessions in maps behind one mutex. Its Users,
// Sessions and Transactor share that state; all are safe for concurrent use.
// The zero Store is not usable; call NewStore.
type Store struct {
	mu sync.Mutex
	st state
}

// state is everything a Store holds. Its values hold no pointers, so a
// shallow copy of the maps is a full snapshot.
type state struct {
	users    map[user.ID]userRec
	keys     map[string]user.ID // Username.Key -> owner: the unique index
	sessions map[user.SessionID]user.Session
}

func (s state) clone() state {
	return state{users: maps.Clone(s.users), keys: maps.Clone(s.keys), sessions: maps.Clone(s.sessions)}
}

// userRec is a stored user: the entity's fields as values, so the store
// never shares memory with a *user.User it was given or handed out.
type userRec struct {
	id               user.ID
	name             user.Username
	hash             user.PasswordHash
	full             user.FullName
	created, updated time.Time
}

func toRec(u *user.User) userRec {
	return userRec{
		id: u.ID(), name: u.Username(), hash: u.PasswordHash(), full: u.FullName(),
		created: norm(u.CreatedAt()), updated: norm(u.UpdatedAt()),
	}
}

func (r userRec) toUser() *user.User {
	return user.Restore(r.id, r.name, r.hash, r.full, r.created, r.updated)
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{st: state{
		users:    make(map[user.ID]userRec),
		keys:     make(map[string]user.ID),
		sessions: make(map[user.SessionID]user.Session),
	}}
}

// Users returns the store's ports.Users.
func (s *Store) Users() *Users { return &Users{s: s} }

// Sessions returns the store's ports.Sessions.
func (s *Store) Sessions() *Sessions { return &Sessions{s: s} }

// Transactor returns the store's ports.Transactor.
func (s *Store) Transactor() *Transactor { return &Transactor{s: s} }

// txKey is the context key of an open transaction's *txMark.
type txKey struct{}

// txMark is an open transaction. While it is open its goroutine owns s.mu,
// and calls made with its context take mu instead, so several goroutines may
// share that context safely.
type txMark struct {
	s    *Store
	mu   sync.Mutex
	open atomic.Bool
}

// lock takes the lock that guards the state for a call made with ctx: the
// transaction's own lock when ctx carries an open transaction of s, else
// s.mu. It returns the matching unlock.
func (s *Store) lock(ctx context.Context) func() {
	if m := s.txOf(ctx); m != nil {
		m.mu.Lock()
		return m.mu.Unlock
	}
	s.mu.Lock()
	return s.mu.Unlock
}

func (s *Store) txOf(ctx context.Context) *txMark {
	if m, ok := ctx.Value(txKey{}).(*txMark); ok && m.s == s && m.open.Load() {
		return m
	}
	return nil
}

// norm is how every time is kept: UTC at microsecond precision, as the SQL
// stores keep it. The zero time stays zero.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// Transactor makes several calls on one Store all-or-nothing.
type Transactor struct{ s *Store }

var _ ports.Transactor = (*Transactor)(nil)

// Atomically runs fn while holding the store's lock, so no other caller
// reads or writes until fn returns: transactions are serialisable, as on
// SQLite. Calls that fn makes with the context it is given run inside; calls
// made with any other context wait for the transaction to end (so fn must not
// make them, or it deadlocks). Atomically snapshots the state first and, when
// fn returns an error or panics, restores that snapshot, so none of fn's
// writes remain; the error is returned unchanged and a panic goes on. Nested
// calls snapshot and restore the same way, like a savepoint.
func (t *Transactor) Atomically(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	s := t.s
	if m := s.txOf(ctx); m != nil {
		m.mu.Lock()
		snap := s.st.clone()
		m.mu.Unlock()
		return runRestoring(func() error { return fn(ctx) }, func() {
			m.mu.Lock()
			s.st = snap
			m.mu.Unlock()
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &txMark{s: s}
	m.open.Store(true)
	defer m.open.Store(false)
	snap := s.st.clone()
	return runRestoring(func() error { return fn(context.WithValue(ctx, txKey{}, m)) }, func() {
		m.mu.Lock()
		s.st = snap
		m.mu.Unlock()
	})
}

// runRestoring runs fn and calls restore if fn fails or panics.
func runRestoring(fn func() error, restore func()) (err error) {
	done := false
	defer func() {
		if !done || err != nil {
			restore()
		}
	}()
	err = fn()
	done = true
	return err
}

// Users keeps accounts with the semantics of ports.Users.
type Users struct{ s *Store }

var _ ports.Users = (*Users)(nil)

// Add stores a copy of u. It fails with user.ErrUsernameTaken when another
// account holds u's Username.Key.
func (r *Users) Add(ctx context.Context, u *user.User) error {
	defer r.s.lock(ctx)()
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
	defer r.s.lock(ctx)()
	id, ok := r.s.st.keys[name.Key()]
	if !ok {
		return nil, user.ErrNotFound
	}
	return r.s.st.users[id].toUser(), nil
}

// BySession returns a copy of user id if session sid exists, belongs to that
// user and is live at now (Session.Live); otherwise it fails with
// user.ErrSessionInvalid.
func (r *Users) BySession(ctx context.Context, id user.ID, sid user.SessionID, now time.Time) (*user.User, error) {
	defer r.s.lock(ctx)()
	sess, ok := r.s.st.sessions[sid]
	if !ok || sess.UserID != id || !sess.Live(norm(now)) {
		return nil, user.ErrSessionInvalid
	}
	rec, ok := r.s.st.users[id]
	if !ok {
		return nil, user.ErrSessionInvalid
	}
	return rec.toUser(), nil
}

// Update applies change to a copy of user id and stores the result only if
// change succeeds and the new username's key is free; the store's lock is
// held throughout, so concurrent Updates serialise. It fails with
// user.ErrNotFound, change's own error, or user.ErrUsernameTaken. change must
// not call the store.
func (r *Users) Update(ctx context.Context, id user.ID, change func(*user.User) error) error {
	defer r.s.lock(ctx)()
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

// Delete removes user id and all its sessions, or fails with
// user.ErrNotFound.
func (r *Users) Delete(ctx context.Context, id user.ID) error {
	defer r.s.lock(ctx)()
	st := &r.s.st
	rec, ok := st.users[id]
	if !ok {
		return user.ErrNotFound
	}
	delete(st.users, id)
	delete(st.keys, rec.name.Key())
	maps.DeleteFunc(st.sessions, func(_ user.SessionID, s user.Session) bool { return s.UserID == id })
	return nil
}

// Sessions keeps sessions with the semantics of ports.Sessions.
type Sessions struct{ s *Store }

var _ ports.Sessions = (*Sessions)(nil)

// Start stores sess. It fails with user.ErrNotFound when sess.UserID names no
// user.
func (r *Sessions) Start(ctx context.Context, sess user.Session) error {
	defer r.s.lock(ctx)()
	st := &r.s.st
	if _, ok := st.users[sess.UserID]; !ok {
		return user.ErrNotFound
	}
	if _, exists := st.sessions[sess.ID]; exists {
		return errors.New("memory: session already exists")
	}
	st.sessions[sess.ID] = normSession(sess)
	return nil
}

// Rotate makes next the current refresh token of session sid and from its
// previous one, at now, only if from is current and the session is live at
// now. It returns the session as stored afterwards and whether it rotated,
// or user.ErrSessionInvalid for an unknown session.
func (r *Sessions) Rotate(ctx context.Context, sid user.SessionID, from user.TokenID, next user.RefreshToken, now time.Time) (user.Session, bool, error) {
	defer r.s.lock(ctx)()
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
	st.sessions[sid] = sess
	return sess, true, nil
}

// Revoke marks session sid revoked at now if it is live at now; otherwise
// (unknown, already revoked, expired) it fails with user.ErrSessionInvalid
// and changes nothing, so the first revocation time is kept.
func (r *Sessions) Revoke(ctx context.Context, sid user.SessionID, now time.Time) error {
	defer r.s.lock(ctx)()
	st := &r.s.st
	sess, ok := st.sessions[sid]
	if !ok || !sess.Live(norm(now)) {
		return user.ErrSessionInvalid
	}
	sess.RevokedAt = norm(now)
	st.sessions[sid] = sess
	return nil
}

// RevokeOthers marks every not yet revoked session of user uid, except keep,
// revoked at now.
func (r *Sessions) RevokeOthers(ctx context.Context, uid user.ID, keep user.SessionID, now time.Time) error {
	defer r.s.lock(ctx)()
	st := &r.s.st
	for sid, sess := range st.sessions {
		if sess.UserID == uid && sid != keep && sess.RevokedAt.IsZero() {
			sess.RevokedAt = norm(now)
			st.sessions[sid] = sess
		}
	}
	return nil
}

func normSession(s user.Session) user.Session {
	s.CreatedAt = norm(s.CreatedAt)
	s.ExpiresAt = norm(s.ExpiresAt)
	s.Current.IssuedAt = norm(s.Current.IssuedAt)
	s.Current.ExpiresAt = norm(s.Current.ExpiresAt)
	s.RotatedAt = norm(s.RotatedAt)
	s.RevokedAt = norm(s.RevokedAt)
	return s
}
