package tokenverify

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultMaxRevocations is how many revoked sessions and users a Verifier
// remembers when Revocations.MaxEntries is zero.
const DefaultMaxRevocations = 100_000

// revocationSet remembers revoked sessions and disabled or deleted users for
// as long as a token issued before the revocation could still be unexpired
// (the access-token lifetime plus the leeway after the revocation), then
// forgets them. It holds at most max entries: beyond that it forgets first
// the entry that would have been forgotten soonest. It is safe for
// concurrent use.
type revocationSet struct {
	keep time.Duration
	max  int

	mu       sync.Mutex
	sessions map[string]time.Time // session id -> forget at
	users    map[string]userEntry
	queue    forgetQueue
}

// userEntry is a disabled or deleted user: tokens issued up to at are
// refused until forget.
type userEntry struct{ at, forget time.Time }

func newRevocationSet(keep time.Duration, max int) *revocationSet {
	if max <= 0 {
		max = DefaultMaxRevocations
	}
	return &revocationSet{keep: keep, max: max, sessions: map[string]time.Time{}, users: map[string]userEntry{}}
}

// revokeSession refuses every token of session sid, revoked at at, until
// no such token can be valid any more. An at long past (an old event read
// again) adds nothing.
func (s *revocationSet) revokeSession(sid string, at, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	forget := at.Add(s.keep)
	if !forget.After(now) {
		return
	}
	if old, ok := s.sessions[sid]; ok && !forget.After(old) {
		return
	}
	s.sessions[sid] = forget
	s.push(forgetItem{session: true, id: sid, forget: forget}, now)
}

// revokeUser refuses every token of user uid issued up to at (a disabled
// account may be enabled again and sign in anew) until no such token can
// be valid any more.
func (s *revocationSet) revokeUser(uid string, at, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	forget := at.Add(s.keep)
	if !forget.After(now) {
		return
	}
	if old, ok := s.users[uid]; ok && !forget.After(old.forget) {
		return
	}
	s.users[uid] = userEntry{at: at, forget: forget}
	s.push(forgetItem{id: uid, forget: forget}, now)
}

// refuses names why p must be refused at now, or returns "". A user's
// revocation covers tokens issued up to leeway after it, since the iat of a
// token is cut to whole seconds and instances' clocks may differ.
func (s *revocationSet) refuses(p Principal, now time.Time, leeway time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if forget, ok := s.sessions[p.SessionID]; ok && now.Before(forget) {
		return "session revoked"
	}
	if u, ok := s.users[p.UserID]; ok && now.Before(u.forget) && !p.IssuedAt.After(u.at.Add(leeway)) {
		return "user disabled or deleted"
	}
	return ""
}

// size returns how many sessions and users are remembered.
func (s *revocationSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) + len(s.users)
}

// push queues it, after forgetting what is due and, when full, what is
// due soonest. s.mu is held.
func (s *revocationSet) push(it forgetItem, now time.Time) {
	for len(s.queue) > 0 && (!s.queue[0].forget.After(now) || len(s.queue) >= s.max) {
		s.drop(heap.Pop(&s.queue).(forgetItem))
	}
	heap.Push(&s.queue, it)
}

// drop forgets the entry of it unless a later revocation replaced it (then
// its own item is still queued).
func (s *revocationSet) drop(it forgetItem) {
	if it.session {
		if s.sessions[it.id].Equal(it.forget) {
			delete(s.sessions, it.id)
		}
		return
	}
	if u, ok := s.users[it.id]; ok && u.forget.Equal(it.forget) {
		delete(s.users, it.id)
	}
}

// forgetItem is when one entry is due to be forgotten.
type forgetItem struct {
	session bool
	id      string
	forget  time.Time
}

// forgetQueue is a min-heap of forgetItems by forget time.
type forgetQueue []forgetItem

func (q forgetQueue) Len() int           { return len(q) }
func (q forgetQueue) Less(i, j int) bool { return q[i].forget.Before(q[j].forget) }
func (q forgetQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *forgetQueue) Push(x any)        { *q = append(*q, x.(forgetItem)) }
func (q *forgetQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
