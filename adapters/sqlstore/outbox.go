package sqlstore

import (
	"context"
	"time"

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
type Outbox struct{ db *gorm.DB }

var _ ports.Events = (*Outbox)(nil)

// NewOutbox returns the outbox on db, the handle Open returned. Its calls
// join the transaction of a context that Transactor.Atomically gave out.
func NewOutbox(db *gorm.DB) *Outbox { return &Outbox{db: db} }

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
		return translate(conn(ctx, o.db).Omit("seq").Create(&rows).Error)
	})
}
