package userapp

import (
	"context"
	"fmt"
	"time"

	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// cleanUpBatch is how many sessions one statement of the clean-up removes:
// small enough that a batch holds its locks briefly, large enough that a
// backlog goes in few round trips.
const cleanUpBatch = 500

// CleanUpSessions removes the sessions that can no longer matter, so ended
// sessions do not pile up. A timer runs it (see bootstrap); several
// instances may run it at once.
type CleanUpSessions struct {
	sessions     userports.Sessions
	clock        ports.Clock
	retention    time.Duration
	batchTimeout time.Duration
}

// Do removes, batch by batch, every session that ended (revoked, past its
// absolute end, or idle past its refresh token's expiry) longer than
// Settings.EndedSessionRetention ago, a deleted account's tombstones
// included: by then none of its tokens can be live, and every instance has
// forgotten its revocation. Each batch has its own deadline of
// Settings.CleanUpBatchTimeout within ctx. Do returns how many sessions it
// removed, and on a failure those removed before it with the error.
// Sessions that another instance is removing at the same moment are left
// to it.
func (uc *CleanUpSessions) Do(ctx context.Context) (int, error) {
	cutoff := uc.clock.Now().Add(-uc.retention)
	removed := 0
	for {
		batch, cancel := context.WithTimeout(ctx, uc.batchTimeout)
		n, err := uc.sessions.RemoveEnded(batch, cutoff, cleanUpBatch)
		cancel()
		removed += n
		if err != nil {
			return removed, fmt.Errorf("remove ended sessions: %w", err)
		}
		if n < cleanUpBatch {
			return removed, nil
		}
	}
}
