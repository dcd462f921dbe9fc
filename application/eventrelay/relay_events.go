package eventrelay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

// Settings tune the relay.
type Settings struct {
	// BatchSize is the most events one round claims.
	BatchSize int
	// FirstRetry is how long an event waits after its first failed
	// delivery; each further failure doubles the wait, up to MaxRetry.
	FirstRetry time.Duration
	// MaxRetry caps the wait between attempts of one event.
	MaxRetry time.Duration
	// Retention is how long delivered events stay in the outbox before
	// PurgeDelivered deletes them.
	Retention time.Duration
	// PurgeBatchTimeout bounds each batch of PurgeDelivered.
	PurgeBatchTimeout time.Duration
}

// Deps are what the relay's use cases work with. Publisher may be nil (no
// broker: subscribers only); Subscribers may be empty.
type Deps struct {
	Outbox      ports.Outbox
	Publisher   ports.Publisher
	Subscribers []ports.Subscriber
	Clock       ports.Clock
	Settings    Settings
}

// RelayEvents delivers one batch of due events per call. A timer and the
// outbox's Recorded signal run it (see bootstrap); several instances may
// run it at once.
type RelayEvents struct {
	d Deps
}

// NewRelayEvents returns the use case on d.
func NewRelayEvents(d Deps) *RelayEvents { return &RelayEvents{d: d} }

// Failure is one failed delivery of a round. It names the event by id and
// type only: its data never reaches a log.
type Failure struct {
	ID   uuid.UUID
	Type string
	// Publish is true when the broker failed, false when a subscriber did.
	Publish bool
	Err     error
}

// Round is what one call of RelayEvents.Do did.
type Round struct {
	// Claimed counts the events of the batch; Delivered those delivered.
	Claimed, Delivered int
	// Full is true when the batch was as large as Settings.BatchSize:
	// more events may be due at once.
	Full bool
	// Failures lists the failed deliveries, each deferred with backoff.
	Failures []Failure
	// BrokerDown is true when a publish failed: the round stopped there,
	// as every further publish would most likely fail too.
	BrokerDown bool
}

// markReserve is the part of a round's deadline kept for marking what was
// delivered: past it, the round delivers no more events, so that the
// deliveries made are recorded rather than repeated.
const markReserve = 2 * time.Second

// Do claims a batch of due events and delivers each, in Seq order, first
// to every subscriber, then to the publisher, waiting for the broker's
// acknowledgement; delivered events are marked delivered (in the claim's
// transaction, where the store has one). A failed delivery counts an
// attempt and defers the event by the backoff of Settings; the rest of its
// subject's events in the batch are skipped, so no later event of that
// user overtakes it (the outbox also holds them back until it is retried).
// A failed publish ends the round. Do returns an error only when the
// outbox fails; its marks may then be undone, and the events are delivered
// again later (at least once).
func (uc *RelayEvents) Do(ctx context.Context) (Round, error) {
	var round Round
	s := uc.d.Settings
	err := uc.d.Outbox.Claim(ctx, uc.d.Clock.Now(), s.BatchSize, func(ctx context.Context, batch []ports.PendingEvent) error {
		round.Claimed, round.Full = len(batch), len(batch) >= s.BatchSize
		failed := map[uuid.UUID]bool{}
		var delivered []int64
		// Deliveries end markReserve before the round's deadline, so that a
		// slow broker's pending acknowledgement cannot use up the time the
		// marks need: else every event of the batch would be delivered again
		// next round, and a batch that takes longer than a round would never
		// be marked at all.
		deliverCtx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			deliverCtx, cancel = context.WithDeadline(ctx, deadline.Add(-markReserve))
			defer cancel()
		}
		for _, e := range batch {
			if failed[e.Subject] {
				continue
			}
			if deliverCtx.Err() != nil {
				break // out of time or stopping: mark what was delivered; the rest waits
			}
			publish, err := uc.deliver(deliverCtx, e.Event)
			if err != nil {
				if deliverCtx.Err() != nil {
					break // out of time or stopping: the rest waits for the next run, uncounted
				}
				failed[e.Subject] = true
				round.Failures = append(round.Failures, Failure{ID: e.ID, Type: e.Type, Publish: publish, Err: err})
				if err := uc.d.Outbox.MarkFailed(ctx, e.Seq, uc.d.Clock.Now().Add(backoff(s, e.Attempts+1))); err != nil {
					return fmt.Errorf("mark event %s failed: %w", e.ID, err)
				}
				if publish {
					round.BrokerDown = true
					break
				}
				continue
			}
			delivered = append(delivered, e.Seq)
		}
		if err := uc.d.Outbox.MarkDelivered(ctx, uc.d.Clock.Now(), delivered...); err != nil {
			return fmt.Errorf("mark %d events delivered: %w", len(delivered), err)
		}
		round.Delivered = len(delivered)
		return nil
	})
	if err != nil {
		return Round{Failures: round.Failures, BrokerDown: round.BrokerDown}, fmt.Errorf("relay events: %w", err)
	}
	return round, nil
}

// deliver hands e to every subscriber, then to the publisher. publish
// reports whether a failure was the publisher's.
func (uc *RelayEvents) deliver(ctx context.Context, e ports.Event) (publish bool, err error) {
	for _, sub := range uc.d.Subscribers {
		if err := callSubscriber(ctx, sub, e); err != nil {
			return false, err
		}
	}
	if uc.d.Publisher == nil {
		return false, nil
	}
	return true, uc.d.Publisher.Publish(ctx, e)
}

// errSubscriberPanicked stands for a subscriber's panic, which is retried
// like its error rather than taking the relay (and the process) down.
var errSubscriberPanicked = errors.New("eventrelay: subscriber panicked")

func callSubscriber(ctx context.Context, sub ports.Subscriber, e ports.Event) (err error) {
	defer func() {
		if recover() != nil {
			err = errSubscriberPanicked
		}
	}()
	e.Data = append([]byte(nil), e.Data...) // a subscriber cannot change what others get
	return sub(ctx, e)
}

// backoff is the wait after the attempts-th failed delivery of an event:
// FirstRetry doubled per further failure, at most MaxRetry.
func backoff(s Settings, attempts int) time.Duration {
	d := s.FirstRetry
	for i := 1; i < attempts && d < s.MaxRetry; i++ {
		d *= 2
	}
	return min(d, s.MaxRetry)
}
