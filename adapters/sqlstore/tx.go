package sqlstore

import (
	"context"

	"gorm.io/gorm"

	"example.com/usersvc/ports"
)

// Transactor runs several store calls in one database transaction. It is safe
// for concurrent use; each call of Atomically has its own transaction.
type Transactor struct{ db *gorm.DB }

var _ ports.Transactor = (*Transactor)(nil)

// NewTransactor returns a Transactor on db, the handle Open returned. Users
// and Sessions built on the same db join its transactions.
func NewTransactor(db *gorm.DB) *Transactor { return &Transactor{db: db} }

// Atomically runs fn in a transaction: every Users and Sessions call that fn
// makes with the context it is given uses that transaction, and they commit
// together when fn returns nil. When fn returns an error (or panics) the
// transaction rolls back and that same error is returned unchanged (or the
// panic goes on). Called with a context that already carries a transaction,
// Atomically nests with a savepoint, so fn's failure undoes only fn's work.
//
// On SQLite the transaction is BEGIN IMMEDIATE: it holds the database's one
// write lock until it ends, so concurrent transactions run one after another.
// On PostgreSQL it is READ COMMITTED; Users.Update locks the row it changes.
// fn must not use its context from several goroutines at once, and must not
// run slow work (password hashing) while the transaction is open. Failing to
// begin or commit returns an error wrapping ports.ErrUnavailable when the
// database cannot be reached or ctx's deadline passes; on PostgreSQL the
// server itself refuses to commit after that deadline, so such a failure
// never leaves fn's writes stored, however late the COMMIT reaches it.
func (t *Transactor) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return inTx(ctx, t.db, fn)
}

// txKey is the context key under which an open transaction travels.
type txKey struct{}

// txState is an open transaction: its *gorm.DB and what to do once the
// outermost transaction has committed.
type txState struct {
	tx          *gorm.DB
	afterCommit *[]func()
}

// conn returns the transaction that ctx carries, or else base, bound to ctx.
// Every store method reaches the database through conn.
func conn(ctx context.Context, base *gorm.DB) *gorm.DB {
	if st, ok := ctx.Value(txKey{}).(txState); ok {
		return st.tx.WithContext(ctx)
	}
	return base.WithContext(ctx)
}

// afterCommit runs fn once the work done with ctx is committed: at once when
// ctx carries no transaction (the statement already committed), else when
// the outermost transaction commits; never if it rolls back, nor if the
// savepoint fn was registered in rolls back.
func afterCommit(ctx context.Context, fn func()) {
	st, ok := ctx.Value(txKey{}).(txState)
	if !ok {
		fn()
		return
	}
	*st.afterCommit = append(*st.afterCommit, fn)
}

// inTx runs fn in a transaction on conn(ctx, base): a new one, or a savepoint
// inside the one ctx carries. A new transaction of a context with a deadline
// is fenced on PostgreSQL (fenceTx): the server refuses to commit it after
// the deadline. fn's own error is returned untouched; a failure to begin,
// fence, commit or roll back is translated.
func inTx(ctx context.Context, base *gorm.DB, fn func(ctx context.Context) error) error {
	outer, nested := ctx.Value(txKey{}).(txState)
	hooks := new([]func())
	if nested {
		hooks = outer.afterCommit
	}
	registered := len(*hooks)
	var fnErr error
	err := conn(ctx, base).Transaction(func(tx *gorm.DB) error {
		if !nested {
			if err := fenceTx(ctx, tx); err != nil {
				fnErr = err
				return err
			}
		}
		fnErr = fn(context.WithValue(ctx, txKey{}, txState{tx: tx, afterCommit: hooks}))
		return fnErr
	})
	if fnErr != nil || err != nil {
		*hooks = (*hooks)[:registered] // the work they announce was undone
	}
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return translate(err)
	}
	if !nested {
		for _, fn := range *hooks {
			fn()
		}
	}
	return nil
}

// inWriteTx runs fn, which writes, where the fence can guard it: in the
// transaction ctx carries, or, when ctx carries none but has a deadline on
// PostgreSQL, in a new fenced transaction. Otherwise (SQLite, no deadline) fn
// runs on its own, as one statement commits by itself.
func inWriteTx(ctx context.Context, base *gorm.DB, fn func(ctx context.Context) error) error {
	_, inside := ctx.Value(txKey{}).(txState)
	_, hasDeadline := ctx.Deadline()
	if inside || !hasDeadline || fenceOf(base) == nil {
		return fn(ctx)
	}
	return inTx(ctx, base, fn)
}
