package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"gorm.io/gorm"
)

// rawStatement is a hot statement run below GORM's statement builder and
// callback chain, on the same connection pool, transaction and logger. Its
// text is bound once, by GORM itself (Raw in a dry run: the ? placeholders
// in the dialect's form, $1... on PostgreSQL), instead of on every call: the
// builder, the callbacks and the DB clones of WithContext were a sixth of a
// refresh's Sessions.Rotate and an eighth of GET /me's user read in CPU
// profiles, for the same bytes sent to the database. Only statements whose
// arguments are single values (strings, times, pointers to them) qualify;
// GORM would expand a slice argument into a list.
type rawStatement struct {
	sql string
}

// bindRaw binds query, which takes nargs single-valued arguments, in db's
// dialect.
func bindRaw(db *gorm.DB, query string, nargs int) rawStatement {
	args := make([]any, nargs)
	for i := range args {
		args[i] = "" // any single value binds as one placeholder
	}
	stmt := db.Session(&gorm.Session{DryRun: true, NewDB: true}).Raw(query, args...).Statement
	return rawStatement{sql: stmt.SQL.String()}
}

// pool is what conn(ctx, db) would run a statement on: ctx's transaction,
// or db's connection pool.
func pool(ctx context.Context, db *gorm.DB) gorm.ConnPool {
	if st, ok := ctx.Value(txKey{}).(txState); ok {
		return st.tx.Statement.ConnPool
	}
	return db.Statement.ConnPool
}

// query runs s with args on ctx's transaction or db's pool and hands the
// statement to db's logger, as GORM's Rows does (the slow-statement report).
func (s rawStatement) query(ctx context.Context, db *gorm.DB, args ...any) (*sql.Rows, error) {
	begin := time.Now()
	rows, err := pool(ctx, db).QueryContext(ctx, s.sql, args...)
	db.Logger.Trace(ctx, begin, func() (string, int64) { return db.Dialector.Explain(s.sql, args...), -1 }, err)
	return rows, err
}

// queryRow is query for at most one row, as GORM's Row.
func (s rawStatement) queryRow(ctx context.Context, db *gorm.DB, args ...any) *sql.Row {
	begin := time.Now()
	row := pool(ctx, db).QueryRowContext(ctx, s.sql, args...)
	db.Logger.Trace(ctx, begin, func() (string, int64) { return db.Dialector.Explain(s.sql, args...), -1 }, row.Err())
	return row
}
