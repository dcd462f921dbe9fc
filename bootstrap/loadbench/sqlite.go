package main

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/glebarez/go-sqlite" // the service's own SQLite driver

	"github.com/google/uuid"

	"example.com/usersvc/adapters/sqlstore"
)

// sqliteStore is the benchmark's connection to the server's SQLite file.
type sqliteStore struct{ db *sql.DB }

func openSQLite(dir string) (*sqliteStore, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, sqlstore.SQLiteFile)), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &sqliteStore{db: db}, nil
}

func (s *sqliteStore) close() { s.db.Close() }

func (s *sqliteStore) passwordHash(ctx context.Context, key string) (string, error) {
	var h string
	err := s.db.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE username_key = ?", key).Scan(&h)
	return h, err
}

// sqliteTime is how the service's driver writes a UTC time.
func sqliteTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02 15:04:05.999999999-07:00")
}

func (s *sqliteStore) addUsers(ctx context.Context, from, to int, name func(int) string, hash string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	now := sqliteTime(time.Now())
	for i := from; i < to; i++ {
		n := name(i)
		if _, err := stmt.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), n, strings.ToLower(n), hash, now, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// watch is nil: an SQLite file has no connections to count.
func (s *sqliteStore) watch() connWatch { return nil }
