package eventrelay

import (
	"context"
	"fmt"
)

// purgeBatch is how many delivered events one statement deletes: small
// enough to hold its locks briefly, large enough to clear a day in few
// round trips.
const purgeBatch = 1000

// PurgeDelivered deletes the events delivered longer than
// Settings.Retention ago, so the outbox does not grow forever. A timer runs
// it (see bootstrap); several instances may run it at once.
type PurgeDelivered struct {
	d Deps
}

// NewPurgeDelivered returns the use case on d.
func NewPurgeDelivered(d Deps) *PurgeDelivered { return &PurgeDelivered{d: d} }

// Do deletes, batch by batch (each with its own deadline of
// Settings.PurgeBatchTimeout within ctx), every event delivered before now
// minus Settings.Retention, and returns how many it deleted; on a failure,
// those deleted before it with the error. Undelivered events are never
// deleted, however old.
func (uc *PurgeDelivered) Do(ctx context.Context) (int, error) {
	cutoff := uc.d.Clock.Now().Add(-uc.d.Settings.Retention)
	purged := 0
	for {
		batch, cancel := context.WithTimeout(ctx, uc.d.Settings.PurgeBatchTimeout)
		n, err := uc.d.Outbox.PurgeDelivered(batch, cutoff, purgeBatch)
		cancel()
		purged += n
		if err != nil {
			return purged, fmt.Errorf("purge delivered events: %w", err)
		}
		if n < purgeBatch {
			return purged, nil
		}
	}
}
