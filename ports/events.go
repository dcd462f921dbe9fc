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
