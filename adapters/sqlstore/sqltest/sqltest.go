package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgresURL is the server used when TEST_DATABASE_URL is unset: the
// local PostgreSQL with trust authentication.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL creates a new, empty database with a unique name
// (usersvc_<test binary>_<random>) on the server of TEST_DATABASE_URL (a
// postgres:// URL; DefaultPostgresURL when unset) and returns the URL of that
// database, with the server URL's user, host and query. t.Cleanup drops the
// database WITH (FORCE), closing any connection still open, so packages and
// tests can run in parallel without sharing data.
//
// When the server cannot be reached, PostgresURL skips the test, unless the
// environment has CI=true, where PostgreSQL is mandatory and the test fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("sqltest: TEST_DATABASE_URL must be a postgres:// URL")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		unreachable(t, err)
	}
	defer admin.Close(context.Background())

	name := "usersvc_" + binaryName() + "_" + randomSuffix(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("sqltest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { drop(t, base, name) })

	u.Path = "/" + name
	return u.String()
}

// SQLiteDir returns an empty directory, removed when the test ends, to hold a
// test's SQLite file (sqlstore.Options.DataDir).
func SQLiteDir(t testing.TB) string {
	t.Helper()
	return t.TempDir()
}

func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("sqltest: PostgreSQL at TEST_DATABASE_URL is unreachable and CI=true makes it mandatory: %v", err)
	}
	t.Skipf("sqltest: skipping, PostgreSQL at TEST_DATABASE_URL is unreachable (set CI=true to fail instead): %v", err)
}

func drop(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("sqltest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("sqltest: drop database %s: %v", name, err)
	}
}

var notIdent = regexp.MustCompile(`[^a-z0-9]+`)

// binaryName is the test binary's package name ("sqlstore" for
// sqlstore.test), folded into identifier characters.
func binaryName() string {
	n := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	n = notIdent.ReplaceAllString(strings.ToLower(n), "_")
	if len(n) > 30 {
		n = n[:30]
	}
	return strings.Trim(n, "_")
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("sqltest: %v", err)
	}
	return hex.EncodeToString(b)
}
