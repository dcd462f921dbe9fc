package memory

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

// DB is the state every bounded context's memory stores share, as their SQL
// twins share one database: one lock, all-or-nothing transactions, and the
// cascades that the SQL schema declares as foreign keys. Each context's store
// registers its own tables and cascades; no store reaches into another's
// maps. The zero DB is not usable; call NewDB.
type DB struct {
	mu      sync.Mutex
	tables  []table
	parents map[string]func(key uuid.UUID) bool // table name -> row exists
	onDel   map[string][]func(key uuid.UUID)    // parent -> cascades
}

// table is one store's state that a transaction snapshots and restores. Its
// values must hold no pointers into shared memory, so a shallow copy is a
// full snapshot.
type table interface {
	snapshot() (restore func())
}

// NewDB returns an empty DB.
func NewDB() *DB {
	return &DB{parents: map[string]func(uuid.UUID) bool{}, onDel: map[string][]func(uuid.UUID){}}
}

// define registers a store's state and the tables other stores may
// reference, by name, with how to tell a row of each exists.
func (db *DB) define(t table, rows map[string]func(key uuid.UUID) bool) {
	db.tables = append(db.tables, t)
	for name, exists := range rows {
		db.parents[name] = exists
	}
}

// references declares that rows of a child table refer to rows of parent:
// cascade runs, with the caller's lock held, for every deleted parent row.
func (db *DB) references(parent string, cascade func(key uuid.UUID)) {
	db.onDel[parent] = append(db.onDel[parent], cascade)
}

// exists reports whether table holds key; the caller holds the lock.
func (db *DB) exists(table string, key uuid.UUID) bool {
	has, ok := db.parents[table]
	return ok && has(key)
}

// deleted runs the cascades of a row of table that was just deleted; the
// caller holds the lock.
func (db *DB) deleted(table string, key uuid.UUID) {
	for _, cascade := range db.onDel[table] {
		cascade(key)
	}
}

func (db *DB) snapshot() (restore func()) {
	restores := make([]func(), len(db.tables))
	for i, t := range db.tables {
		restores[i] = t.snapshot()
	}
	return func() {
		for _, r := range restores {
			r()
		}
	}
}

// Transactor returns the ports.Transactor of every store on db.
func (db *DB) Transactor() *Transactor { return &Transactor{db: db} }

// txKey is the context key of an open transaction's *txMark.
type txKey struct{}

// txMark is an open transaction. While it is open its goroutine owns db.mu,
// and calls made with its context take mu instead, so several goroutines may
// share that context safely.
type txMark struct {
	db   *DB
	mu   sync.Mutex
	open atomic.Bool
}

// lock takes the lock that guards the state for a call made with ctx: the
// transaction's own lock when ctx carries an open transaction of db, else
// db.mu. It returns the matching unlock.
func (db *DB) lock(ctx context.Context) func() {
	if m := db.txOf(ctx); m != nil {
		m.mu.Lock()
		return m.mu.Unlock
	}
	db.mu.Lock()
	return db.mu.Unlock
}

func (db *DB) txOf(ctx context.Context) *txMark {
	if m, ok := ctx.Value(txKey{}).(*txMark); ok && m.db == db && m.open.Load() {
		return m
	}
	return nil
}

// Transactor makes several calls on the stores of one DB all-or-nothing.
type Transactor struct{ db *DB }

var _ ports.Transactor = (*Transactor)(nil)

// Atomically runs fn while holding the DB's lock, so no other caller reads or
// writes until fn returns: transactions are serialisable, as on SQLite. Calls
// that fn makes with the context it is given run inside; calls made with any
// other context wait for the transaction to end (so fn must not make them, or
// it deadlocks). Atomically snapshots every table first and, when fn returns
// an error or panics, restores that snapshot, so none of fn's writes remain;
// the error is returned unchanged and a panic goes on. Nested calls snapshot
// and restore the same way, like a savepoint.
func (t *Transactor) Atomically(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	db := t.db
	if m := db.txOf(ctx); m != nil {
		m.mu.Lock()
		restore := db.snapshot()
		m.mu.Unlock()
		return runRestoring(func() error { return fn(ctx) }, func() {
			m.mu.Lock()
			restore()
			m.mu.Unlock()
		})
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	m := &txMark{db: db}
	m.open.Store(true)
	defer m.open.Store(false)
	restore := db.snapshot()
	return runRestoring(func() error { return fn(context.WithValue(ctx, txKey{}, m)) }, func() {
		m.mu.Lock()
		restore()
		m.mu.Unlock()
	})
}

// runRestoring runs fn and calls restore if fn fails or panics.
func runRestoring(fn func() error, restore func()) (err error) {
	done := false
	defer func() {
		if !done || err != nil {
			restore()
		}
	}()
	err = fn()
	done = true
	return err
}

// norm is how every time is kept: UTC at microsecond precision, as the SQL
// stores keep it. The zero time stays zero.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
