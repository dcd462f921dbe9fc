package ratelimit

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"example.com/usersvc/ports"
)

// DefaultMaxKeys is how many keys NewMemory tracks at most: about 16 MB of
// state at worst with keys of 40 bytes (an IPv6 address and a label).
const DefaultMaxKeys = 100_000

// Memory is the in-process ports.RateLimiter. It is safe for concurrent use;
// its budgets are those of one process, so several instances of the service
// each have their own (use Redis to share them).
//
// Memory stays bounded without a background goroutine: every call first drops
// the keys whose state has lapsed (idle for their window), and when the key
// cap is reached a new key evicts the tracked key nearest to lapsing. That is
// the eviction that forgives the least, so a flood of new keys (spoofed
// addresses, invented usernames) cannot flush out a key that is locked out:
// the flood's own keys, each one event in debt, go first.
type Memory struct {
	clock   func() time.Time
	epoch   time.Time
	maxKeys int

	mu    sync.Mutex
	keys  map[string]*entry
	queue byTAT // the same entries, soonest-lapsing first
}

var _ ports.RateLimiter = (*Memory)(nil)

// NewMemory returns an empty Memory that reads the time from clock (time.Now
// when nil) and tracks at most DefaultMaxKeys keys.
func NewMemory(clock func() time.Time) *Memory {
	return NewMemoryMaxKeys(clock, DefaultMaxKeys)
}

// NewMemoryMaxKeys is NewMemory with a cap of maxKeys keys (at least 1).
func NewMemoryMaxKeys(clock func() time.Time, maxKeys int) *Memory {
	if clock == nil {
		clock = time.Now
	}
	return &Memory{
		clock:   clock,
		epoch:   clock(),
		maxKeys: max(maxKeys, 1),
		keys:    make(map[string]*entry),
	}
}

// Allow records one event for key and reports whether it is within l. When
// it is not, nothing is recorded and retryAfter is the whole number of
// seconds (at least one) until an event would be allowed. An Off limit
// always allows and touches no state. The error is always nil.
func (m *Memory) Allow(_ context.Context, key string, l ports.Limit) (bool, time.Duration, error) {
	if l.Off() {
		return true, 0, nil
	}
	interval, burst := emission(l, time.Nanosecond)

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	e := m.keys[key]
	next := e.after(now) + interval
	if wait := next - now - burst; wait > 0 {
		return false, retryAfter(time.Duration(wait)), nil
	}
	if e != nil {
		e.tat = next
		heap.Fix(&m.queue, e.index)
		return true, 0, nil
	}
	if len(m.keys) >= m.maxKeys {
		delete(m.keys, heap.Pop(&m.queue).(*entry).key)
	}
	e = &entry{key: key, tat: next}
	m.keys[key] = e
	heap.Push(&m.queue, e)
	return true, 0, nil
}

// Refund gives back one event Allow recorded for key under l: it moves the
// key's theoretical arrival time back by one emission interval, and forgets
// the key once that is not after now (its budget is full again). A key that
// is not tracked (never allowed, lapsed or evicted) and an Off limit are left
// alone. The error is always nil.
func (m *Memory) Refund(_ context.Context, key string, l ports.Limit) error {
	if l.Off() {
		return nil
	}
	interval, _ := emission(l, time.Nanosecond)

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.sweep()
	e := m.keys[key]
	if e == nil {
		return nil
	}
	e.tat -= interval
	if e.tat <= now {
		heap.Remove(&m.queue, e.index)
		delete(m.keys, key)
		return nil
	}
	heap.Fix(&m.queue, e.index)
	return nil
}

// Len reports how many keys Memory tracks now (after dropping lapsed ones),
// at most its cap. It is meant for metrics and tests.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	return len(m.keys)
}

// sweep reads the clock as nanoseconds since epoch, drops every key whose
// theoretical arrival time is not after that (such a key is as good as new)
// and returns the time read. Each key is dropped once, so sweeping costs
// O(log n) per key, amortised. m.mu must be held.
func (m *Memory) sweep() int64 {
	now := int64(m.clock().Sub(m.epoch))
	for len(m.queue) > 0 && m.queue[0].tat <= now {
		delete(m.keys, heap.Pop(&m.queue).(*entry).key)
	}
	return now
}

// entry is one key's GCRA state: its theoretical arrival time in nanoseconds
// since Memory's epoch, and its place in the queue.
type entry struct {
	key   string
	tat   int64
	index int
}

// after is when the key's next event counts from: its theoretical arrival
// time, or now if that has passed or the key is not tracked (e is nil).
func (e *entry) after(now int64) int64 {
	if e == nil {
		return now
	}
	return max(e.tat, now)
}

// byTAT is a min-heap of entries by theoretical arrival time (container/heap).
type byTAT []*entry

func (q byTAT) Len() int           { return len(q) }
func (q byTAT) Less(i, j int) bool { return q[i].tat < q[j].tat }
func (q byTAT) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *byTAT) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *byTAT) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
