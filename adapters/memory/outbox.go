package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

// Outbox keeps recorded events on a DB, in the order they were recorded,
// so that a rolled-back transaction takes its events with it, and serves
// them to a relay (ports.Outbox) as the SQL outbox does on SQLite. It is
// safe for concurrent use.
type Outbox struct {
	db       *DB
	rows     []outboxRow
	nextSeq  int64
	recorded chan struct{}
	claiming sync.Mutex // one Claim at a time
}

// outboxRow is one recorded event and its delivery state.
type outboxRow struct {
	ports.PendingEvent
	deliveredAt time.Time // zero: undelivered
	nextAttempt time.Time // zero: due at once
}

var (
	_ ports.Events = (*Outbox)(nil)
	_ ports.Outbox = (*Outbox)(nil)
)

// NewOutbox adds an outbox to db.
func NewOutbox(db *DB) *Outbox {
	o := &Outbox{db: db, recorded: make(chan struct{}, 1)}
	db.define(o, nil)
	return o
}

func (o *Outbox) snapshot() (restore func()) {
	saved, seq := slices.Clone(o.rows), o.nextSeq
	return func() { o.rows, o.nextSeq = saved, seq }
}

// Record appends copies of events, in the transaction ctx carries if any,
// and wakes a waiting relay (whose Claim waits for that transaction).
func (o *Outbox) Record(ctx context.Context, events ...ports.Event) error {
	unlock := o.db.lock(ctx)
	for _, e := range events {
		e.Data = slices.Clone(e.Data)
		e.Time = norm(e.Time)
		o.nextSeq++
		o.rows = append(o.rows, outboxRow{PendingEvent: ports.PendingEvent{Event: e, Seq: o.nextSeq}})
	}
	unlock()
	select {
	case o.recorded <- struct{}{}:
	default:
	}
	return nil
}

// Recorded receives a value after Record.
func (o *Outbox) Recorded() <-chan struct{} { return o.recorded }

// Events returns a copy of every event recorded and committed so far and
// not purged, in order. It is meant for tests.
func (o *Outbox) Events() []ports.Event {
	defer o.db.lock(context.Background())()
	out := make([]ports.Event, len(o.rows))
	for i, r := range o.rows {
		out[i] = r.Event
	}
	return out
}

// Claim calls fn with the due events, one Claim at a time; marks take
// effect as they are made.
func (o *Outbox) Claim(ctx context.Context, now time.Time, limit int, fn func(ctx context.Context, batch []ports.PendingEvent) error) error {
	o.claiming.Lock()
	defer o.claiming.Unlock()
	unlock := o.db.lock(ctx)
	var batch []ports.PendingEvent
	blocked := map[uuid.UUID]bool{} // subjects with an earlier undelivered event left out
	for _, r := range o.rows {
		if !r.deliveredAt.IsZero() {
			continue
		}
		if len(batch) < limit && !blocked[r.Subject] && !r.nextAttempt.After(now) {
			p := r.PendingEvent
			p.Data = slices.Clone(p.Data)
			batch = append(batch, p)
			continue
		}
		blocked[r.Subject] = true
	}
	unlock()
	if len(batch) == 0 {
		return nil
	}
	return fn(ctx, batch)
}

// update applies change to the undelivered rows of seqs.
func (o *Outbox) update(ctx context.Context, change func(*outboxRow), seqs ...int64) {
	defer o.db.lock(ctx)()
	for i := range o.rows {
		if slices.Contains(seqs, o.rows[i].Seq) {
			change(&o.rows[i])
		}
	}
}

// MarkDelivered marks seqs delivered at at.
func (o *Outbox) MarkDelivered(ctx context.Context, at time.Time, seqs ...int64) error {
	o.update(ctx, func(r *outboxRow) { r.deliveredAt = norm(at) }, seqs...)
	return nil
}

// MarkFailed counts a failed attempt of seq and defers it to next.
func (o *Outbox) MarkFailed(ctx context.Context, seq int64, next time.Time) error {
	o.update(ctx, func(r *outboxRow) { r.Attempts++; r.nextAttempt = norm(next) }, seq)
	return nil
}

// PurgeDelivered deletes up to limit events delivered before cutoff, the
// earliest delivered first.
func (o *Outbox) PurgeDelivered(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	defer o.db.lock(ctx)()
	var old []int
	for i, r := range o.rows {
		if !r.deliveredAt.IsZero() && r.deliveredAt.Before(cutoff) {
			old = append(old, i)
		}
	}
	slices.SortStableFunc(old, func(a, b int) int { return o.rows[a].deliveredAt.Compare(o.rows[b].deliveredAt) })
	if len(old) > limit {
		old = old[:limit]
	}
	gone := map[int]bool{}
	for _, i := range old {
		gone[i] = true
	}
	kept := o.rows[:0:0]
	for i, r := range o.rows {
		if !gone[i] {
			kept = append(kept, r)
		}
	}
	o.rows = kept
	return len(old), nil
}

// Backlog counts the undelivered events.
func (o *Outbox) Backlog(ctx context.Context) (ports.Backlog, error) {
	defer o.db.lock(ctx)()
	var b ports.Backlog
	for _, r := range o.rows {
		if r.deliveredAt.IsZero() {
			if b.Undelivered == 0 {
				b.Oldest = r.Time
			}
			b.Undelivered++
		}
	}
	return b, nil
}
