package memory

import (
	"context"
	"slices"

	"example.com/usersvc/ports"
)

// Outbox keeps recorded events on a DB, in the order they were recorded,
// so that a rolled-back transaction takes its events with it. It is safe
// for concurrent use.
type Outbox struct {
	db     *DB
	events []ports.Event
}

var _ ports.Events = (*Outbox)(nil)

// NewOutbox adds an outbox to db.
func NewOutbox(db *DB) *Outbox {
	o := &Outbox{db: db}
	db.define(o, nil)
	return o
}

func (o *Outbox) snapshot() (restore func()) {
	saved := slices.Clone(o.events)
	return func() { o.events = saved }
}

// Record appends copies of events, in the transaction ctx carries if any.
func (o *Outbox) Record(ctx context.Context, events ...ports.Event) error {
	defer o.db.lock(ctx)()
	for _, e := range events {
		e.Data = slices.Clone(e.Data)
		e.Time = norm(e.Time)
		o.events = append(o.events, e)
	}
	return nil
}

// Recorded returns a copy of every event recorded and committed so far, in
// order. It is meant for tests.
func (o *Outbox) Recorded() []ports.Event {
	defer o.db.lock(context.Background())()
	return slices.Clone(o.events)
}
