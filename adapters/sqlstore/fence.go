package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"example.com/usersvc/ports"
)

// The write fence keeps "the request failed, so nothing was written" true
// on PostgreSQL. A client that gives up at its deadline cannot take back the
// bytes it already sent: a stalled network delivers a buffered COMMIT when
// it heals, a frozen server reads it when it thaws, and the server then
// commits work whose request was answered 503. So the deadline travels to
// the server, on the server's clock, and the server refuses to commit after
// it:
//
//   - every top-level write transaction of a context with a deadline first
//     sets usersvc.write_deadline (SET LOCAL scope), and deferred constraint
//     triggers on users and sessions (migration 00003_write_deadline.sql)
//     raise errCodeWriteDeadline inside COMMIT once clock_timestamp() is
//     past it, which rolls the transaction back;
//   - a single statement outside a transaction (Sessions.Rotate and Revoke)
//     carries the deadline as a predicate, clock_timestamp() <= deadline.
//
// The server's clock is found from its own answers: a reply stamped with
// clock_timestamp() at server time s and received at local time r gives
// s - r, which is never more than the true offset (the stamp was taken
// before the reply arrived), so a fence computed with it fires no later
// than the local deadline; it errs early by at most the round trip. The
// fence is set earlier still by fenceMargin, or by the last round trip if
// that was longer, to leave the COMMIT's answer time to come back.
//
// One case remains that no fence closes: a COMMIT that passed the fence and
// whose answer then takes longer than that margin to come back (a stall
// that starts in that instant, or latency that grew since the last round
// trip). SQLite needs no fence: there is no network between the
// service and its file, and a transaction whose context ends rolls back in
// the process.
const (
	// fenceMargin is the least time the fence leaves before the deadline.
	fenceMargin = 50 * time.Millisecond
	// clockSampleTTL is how long an estimate of the server's clock is used
	// before it is measured again, so a clock stepped on either host is
	// noticed within it.
	clockSampleTTL = 30 * time.Second
	// errCodeWriteDeadline is the SQLSTATE the fence's triggers raise.
	errCodeWriteDeadline = "UT001"
	// fenceFormat is how the deadline is written into usersvc.write_deadline.
	fenceFormat = "2006-01-02T15:04:05.000000Z07:00"
)

// writeFence keeps the estimate of the server clock's offset for one pool.
// Open registers it as a GORM plugin of PostgreSQL handles, so the stores
// built on one handle share it; SQLite handles have none. Safe for
// concurrent use.
type writeFence struct {
	mu      sync.Mutex
	offset  time.Duration // server clock minus local clock, never more than the truth
	rtt     time.Duration // round trip of the sample offset came from: its largest error
	at      time.Time     // when that sample arrived; zero when there is none
	lastRTT time.Duration // round trip of the latest sample, whichever was kept
}

func newWriteFence() *writeFence { return &writeFence{} }

// Name implements gorm.Plugin.
func (*writeFence) Name() string { return "usersvc:write-fence" }

// Initialize implements gorm.Plugin; the fence needs no callbacks.
func (*writeFence) Initialize(*gorm.DB) error { return nil }

// fenceOf returns db's write fence, or nil when db writes unfenced (SQLite).
func fenceOf(db *gorm.DB) *writeFence {
	f, _ := db.Config.Plugins[(*writeFence)(nil).Name()].(*writeFence)
	return f
}

// writeDeadline returns the instant, on the server's clock, after which the
// server must not commit work done for ctx, and whether there is one: only
// on PostgreSQL, for a ctx with a deadline. It measures the server's clock
// first when the estimate is missing or older than clockSampleTTL.
func writeDeadline(ctx context.Context, db *gorm.DB) (time.Time, bool, error) {
	f := fenceOf(db)
	deadline, ok := ctx.Deadline()
	if f == nil || !ok {
		return time.Time{}, false, nil
	}
	offset, margin, fresh := f.estimate(time.Now())
	if !fresh {
		sent := time.Now()
		var server time.Time
		if err := db.WithContext(ctx).Raw("SELECT clock_timestamp()").Row().Scan(&server); err != nil {
			return time.Time{}, false, translate(err)
		}
		offset, margin = f.observe(sent, time.Now(), server)
	}
	return deadline.Add(offset - margin).UTC(), true, nil
}

// fenceTx sets the write deadline of ctx on tx, a new transaction, when
// there is one; the answer also refreshes the clock estimate.
func fenceTx(ctx context.Context, tx *gorm.DB) error {
	fence, ok, err := writeDeadline(ctx, tx)
	if err != nil || !ok {
		return err
	}
	var (
		set    string
		server time.Time
	)
	sent := time.Now()
	err = tx.WithContext(ctx).
		Raw("SELECT set_config('usersvc.write_deadline', ?, true), clock_timestamp()", fence.Format(fenceFormat)).
		Row().Scan(&set, &server)
	if err != nil {
		return translate(err)
	}
	fenceOf(tx).observe(sent, time.Now(), server)
	return nil
}

// errFenced is the error of a write the fence refused: the request's
// deadline passed before the server got to it.
func errFenced(what string) error {
	return fmt.Errorf("%w: sqlstore: %s refused: the request's deadline passed before it reached the database", ports.ErrUnavailable, what)
}

// estimate returns the current offset, the margin to keep before the
// deadline, and whether they are fresh enough to use.
func (f *writeFence) estimate(now time.Time) (offset, margin time.Duration, fresh bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offset, max(fenceMargin, f.lastRTT), !f.at.IsZero() && now.Sub(f.at) <= clockSampleTTL
}

// observe takes one sample: a query sent at local time sent, answered with
// the server's clock_timestamp() server, received at local time received.
// The sample replaces the offset estimate when that is stale or the sample
// is at least as precise (no longer a round trip); its round trip is the
// margin's from now on either way. It returns the new offset and margin.
func (f *writeFence) observe(sent, received, server time.Time) (offset, margin time.Duration) {
	sample, rtt := server.Sub(received), received.Sub(sent)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.IsZero() || received.Sub(f.at) > clockSampleTTL || rtt <= f.rtt {
		f.offset, f.rtt, f.at = sample, rtt, received
	}
	f.lastRTT = rtt
	return f.offset, max(fenceMargin, rtt)
}
