package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Event is one change of state that other services and bounded contexts
// hear of: a user or a session changed. It is recorded in the transaction
// of the change itself (Events.Record), so there is no event without the
// change and no change without its event, and delivered later, at least
// once and in order per Subject, as a CloudEvents 1.0 document with source
// "usersvc".
type Event struct {
	// ID identifies the event; consumers deduplicate on it.
	ID uuid.UUID
	// Type names what happened, such as "user.created" or "session.revoked".
	Type string
	// Subject is the id of the user the event concerns, session events
	// included.
	Subject uuid.UUID
	// Time is when the change happened.
	Time time.Time
	// Data is the type's JSON object. It never holds a password, a hash or
	// a token.
	Data json.RawMessage
}

// Events records events for delivery. Safe for concurrent use.
type Events interface {
	// Record stores events in the transaction ctx carries, so that they
	// commit with the change they describe or not at all; called with no
	// transaction, it stores them in one of its own. Failures to reach the
	// store wrap ErrUnavailable.
	Record(ctx context.Context, events ...Event) error
}

// PendingEvent is a recorded event that the relay has yet to deliver.
type PendingEvent struct {
	Event
	// Seq orders the outbox: events of one Subject are delivered in Seq
	// order.
	Seq int64
	// Attempts counts the deliveries of this event that failed so far.
	Attempts int
}

// Backlog describes the undelivered events of an outbox.
type Backlog struct {
	// Undelivered counts the events not delivered yet.
	Undelivered int
	// Oldest is the Time of the oldest undelivered event; zero when there
	// is none.
	Oldest time.Time
}

// Outbox is the relay's side of the outbox that Events records into. Safe
// for concurrent use, also by several relays (instances) at once.
type Outbox interface {
	// Claim calls fn with up to limit undelivered events in Seq order that
	// are due at now (never failed, or failed with a next attempt not after
	// now), taking an event only when no earlier undelivered event of the
	// same Subject is left out of the batch, so that the relay keeps each
	// subject's order. While fn runs, no other Claim gets these events;
	// fn marks them with MarkDelivered and MarkFailed using the context it
	// is given; those marks hold once fn has returned nil (on a store
	// with transactions, a failing fn or Claim may undo them, so that the
	// events are claimed again: delivery is at least once). fn is not
	// called when no event is due. Claim returns fn's error unchanged;
	// failures to reach the store wrap ErrUnavailable.
	Claim(ctx context.Context, now time.Time, limit int, fn func(ctx context.Context, batch []PendingEvent) error) error
	// MarkDelivered marks the events of seqs delivered at at; they are not
	// claimed again.
	MarkDelivered(ctx context.Context, at time.Time, seqs ...int64) error
	// MarkFailed counts a failed attempt of the event seq and makes it (and
	// so every later event of its Subject) wait until next.
	MarkFailed(ctx context.Context, seq int64, next time.Time) error
	// PurgeDelivered deletes up to limit events delivered before cutoff
	// and returns how many it deleted.
	PurgeDelivered(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// Backlog reports the undelivered events.
	Backlog(ctx context.Context) (Backlog, error)
	// Recorded receives a value (at most one waits) after a commit that
	// recorded events in this process, so that a relay can wake at once
	// instead of at its next poll.
	Recorded() <-chan struct{}
}

// Publisher hands events to a broker outside the process. Safe for
// concurrent use.
type Publisher interface {
	// Publish returns once the broker has acknowledged e and stored it
	// durably, or with an error (wrapping ErrUnavailable when the broker
	// cannot be reached). Publishing the same event id twice within the
	// broker's duplicate window stores it once.
	Publish(ctx context.Context, e Event) error
}

// Subscriber reacts in-process to a delivered event. It is called at least
// once per event, in order per Subject; an error makes the relay try the
// event again later, so a subscriber must tolerate repeats (deduplicate on
// the event's ID). Its error is logged with the event's id and type, so
// it must not carry the event's data.
type Subscriber func(ctx context.Context, e Event) error
