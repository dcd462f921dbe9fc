package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/usersvc/ports"
)

// outboxRow is the outbox table as GORM sees it; it never leaves this
// package. seq is the database's, assigned at insert.
type outboxRow struct {
	Seq           int64      `gorm:"column:seq;primaryKey;autoIncrement"`
	ID            string     `gorm:"column:id"`
	Type          string     `gorm:"column:type"`
	Subject       string     `gorm:"column:subject"`
	Time          time.Time  `gorm:"column:time"`
	Data          string     `gorm:"column:data"`
	DeliveredAt   *time.Time `gorm:"column:delivered_at"`
	Attempts      int        `gorm:"column:attempts"`
	NextAttemptAt *time.Time `gorm:"column:next_attempt_at"`
}

// TableName tells GORM the table's name.
func (outboxRow) TableName() string { return "outbox" }

// Outbox keeps events in the outbox table until the relay delivers them. It
// is safe for concurrent use.
type Outbox struct {
	db       *gorm.DB
	postgres bool
	recorded chan struct{}
	// claiming serialises Claim on SQLite, whose relay runs in one process
	// and claims without row locks.
	claiming sync.Mutex
}

var (
	_ ports.Events = (*Outbox)(nil)
	_ ports.Outbox = (*Outbox)(nil)
)

// NewOutbox returns the outbox on db, the handle Open returned. Its calls
// join the transaction of a context that Transactor.Atomically gave out.
func NewOutbox(db *gorm.DB) *Outbox {
	return &Outbox{db: db, postgres: db.Dialector.Name() == "postgres", recorded: make(chan struct{}, 1)}
}

// Record inserts events in the transaction ctx carries, in one statement,
// so they commit with the change they describe; without one, in a fenced
// transaction of their own (inWriteTx). Failures wrap ports.ErrUnavailable.
func (o *Outbox) Record(ctx context.Context, events ...ports.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]outboxRow, len(events))
	for i, e := range events {
		rows[i] = outboxRow{ID: e.ID.String(), Type: e.Type, Subject: e.Subject.String(), Time: dbTime(e.Time), Data: string(e.Data)}
	}
	return inWriteTx(ctx, o.db, func(ctx context.Context) error {
		afterCommit(ctx, o.notify)
		return translate(conn(ctx, o.db).Omit("seq").Create(&rows).Error)
	})
}

// notify wakes the relay without ever waiting: one pending wake-up is
// enough, since the relay claims every due event when it wakes.
func (o *Outbox) notify() {
	select {
	case o.recorded <- struct{}{}:
	default:
	}
}

// Recorded receives a value after a commit that recorded events through
// this Outbox.
func (o *Outbox) Recorded() <-chan struct{} { return o.recorded }

// claimTxIdleTimeout replaces idle_in_transaction_session_timeout (which
// the pool sets to DB_QUERY_TIMEOUT, to suit requests) in the claim's
// transaction, which stays open while the relay waits for the broker.
const claimTxIdleTimeout = "60s"

// Claim selects the batch in one statement. On PostgreSQL it runs in a
// transaction held while fn runs: the batch's rows are locked FOR UPDATE
// SKIP LOCKED, so concurrent relays (instances) take disjoint batches, and
// a row is kept only when no earlier undelivered row of its subject lies
// outside the batch (locked by another relay, or waiting for its retry),
// so no relay overtakes another within a subject. fn's marks commit with
// the transaction. On SQLite, a single-process store, Claim holds no
// transaction (which would hold the one write lock, and so every request,
// while the broker is called): claims are serialised in the process
// instead, and each mark commits by itself.
func (o *Outbox) Claim(ctx context.Context, now time.Time, limit int, fn func(ctx context.Context, batch []ports.PendingEvent) error) error {
	const keep = ` SELECT c.seq, c.id, c.type, c.subject, c.time, c.data, c.attempts FROM claimed c
		WHERE NOT EXISTS (SELECT 1 FROM outbox e WHERE e.subject = c.subject AND e.delivered_at IS NULL
			AND e.seq < c.seq AND e.seq NOT IN (SELECT seq FROM claimed))
		ORDER BY c.seq`
	// A row behind an earlier event of its subject that waits for its
	// retry is left out before the LIMIT: otherwise a user with a batch's
	// worth of events held back would fill every batch, and no other
	// user's event would be delivered until that retry.
	const due = `SELECT seq, id, type, subject, time, data, attempts FROM outbox o
		WHERE delivered_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
			AND NOT EXISTS (SELECT 1 FROM outbox w WHERE w.subject = o.subject AND w.delivered_at IS NULL
				AND w.seq < o.seq AND w.next_attempt_at > ?)
		ORDER BY seq LIMIT ?`
	claim := func(ctx context.Context) error {
		q := "WITH claimed AS (" + due + ")" + keep
		if o.postgres {
			q = "WITH claimed AS MATERIALIZED (" + due + " FOR UPDATE SKIP LOCKED)" + keep
		}
		var rows []outboxRow
		if err := conn(ctx, o.db).Raw(q, dbTime(now), dbTime(now), limit).Scan(&rows).Error; err != nil {
			return translate(err)
		}
		if len(rows) == 0 {
			return nil
		}
		batch := make([]ports.PendingEvent, len(rows))
		for i, r := range rows {
			e, err := r.pending()
			if err != nil {
				return err
			}
			batch[i] = e
		}
		return fn(ctx, batch)
	}
	if !o.postgres {
		o.claiming.Lock()
		defer o.claiming.Unlock()
		return claim(ctx)
	}
	return inTx(ctx, o.db, func(ctx context.Context) error {
		if err := conn(ctx, o.db).Exec("SET LOCAL idle_in_transaction_session_timeout = '" + claimTxIdleTimeout + "'").Error; err != nil {
			return translate(err)
		}
		return claim(ctx)
	})
}

// pending converts a row that Claim read.
func (r outboxRow) pending() (ports.PendingEvent, error) {
	id, err1 := uuid.Parse(r.ID)
	subject, err2 := uuid.Parse(r.Subject)
	if err1 != nil || err2 != nil || !json.Valid([]byte(r.Data)) {
		return ports.PendingEvent{}, fmt.Errorf("sqlstore: outbox row %d is malformed", r.Seq)
	}
	return ports.PendingEvent{
		Event:    ports.Event{ID: id, Type: r.Type, Subject: subject, Time: r.Time.UTC(), Data: json.RawMessage(r.Data)},
		Seq:      r.Seq,
		Attempts: r.Attempts,
	}, nil
}

// MarkDelivered sets delivered_at of seqs, in the claim's transaction.
func (o *Outbox) MarkDelivered(ctx context.Context, at time.Time, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return translate(conn(ctx, o.db).Exec("UPDATE outbox SET delivered_at = ? WHERE seq IN ?", dbTime(at), seqs).Error)
}

// MarkFailed counts the failed attempt and sets next_attempt_at, in the
// claim's transaction.
func (o *Outbox) MarkFailed(ctx context.Context, seq int64, next time.Time) error {
	return translate(conn(ctx, o.db).Exec("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE seq = ?", dbTime(next), seq).Error)
}

// PurgeDelivered deletes one batch in one statement served by
// outbox_delivered_at_idx; on PostgreSQL it skips rows another purge has
// locked, so several instances purge disjoint batches.
func (o *Outbox) PurgeDelivered(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	q := "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ? ORDER BY delivered_at LIMIT ?)"
	if o.postgres {
		q = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ? ORDER BY delivered_at LIMIT ? FOR UPDATE SKIP LOCKED)"
	}
	var n int64
	err := inWriteTx(ctx, o.db, func(ctx context.Context) error {
		res := conn(ctx, o.db).Exec(q, dbTime(cutoff), limit)
		n = res.RowsAffected
		return translate(res.Error)
	})
	return int(n), err
}

// Backlog counts the undelivered rows and reads the oldest one's time,
// both through outbox_undelivered_idx.
func (o *Outbox) Backlog(ctx context.Context) (ports.Backlog, error) {
	var b ports.Backlog
	var n int64
	if err := conn(ctx, o.db).Model(&outboxRow{}).Where("delivered_at IS NULL").Count(&n).Error; err != nil {
		return b, translate(err)
	}
	b.Undelivered = int(n)
	if n == 0 {
		return b, nil
	}
	var oldest []outboxRow
	if err := conn(ctx, o.db).Select("seq, time").Where("delivered_at IS NULL").Order("seq").Limit(1).Find(&oldest).Error; err != nil {
		return b, translate(err)
	}
	if len(oldest) == 1 {
		b.Oldest = oldest[0].Time.UTC()
	}
	return b, nil
}
