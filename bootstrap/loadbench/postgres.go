package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"example.com/usersvc/adapters/passwords"
	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/domain/user"
)

// benchDatabase is the database the benchmark creates, and drops afterwards.
const benchDatabase = "usersvc_bench"

// serverAppName is the application_name of the server's pool connections
// (set in its DATABASE_URL), so they can be told apart from the revocation
// listener's (usersvc-revocations) and the benchmark's own.
const serverAppName = "usersvc-bench"

// benchAppName is the application_name of the benchmark's own connections.
const benchAppName = "loadbench"

// connsMethod says how new connections are counted.
const connsMethod = "backends of " + benchDatabase + " with application_name " + serverAppName +
	" (the server's pool) whose backend_start lies in the steady phase, from pg_stat_activity sampled every 50 ms" +
	" (a connection that lives less than that can be missed); in brackets, the change of pg_stat_database.sessions" +
	" for the database over the phase (every connection, the listener's and the benchmark's included)"

func createBenchDatabase(ctx context.Context, server string) (string, error) {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(server), err)
	}
	defer admin.Close(context.Background())
	name := pgx.Identifier{benchDatabase}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u, _ := url.Parse(server)
	u.Path = "/" + benchDatabase
	return u.String(), nil
}

func dropBenchDatabase(server string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench: drop", benchDatabase+":", err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{benchDatabase}.Sanitize()+" WITH (FORCE)"); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench: drop", benchDatabase+":", err)
		return
	}
	fmt.Printf("dropped database %s\n", benchDatabase)
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "the PostgreSQL URL"
}

// pgStore is the benchmark's connections to the bench database: one for
// seeding and queries, one for watching connections.
type pgStore struct {
	conn, watchConn *pgx.Conn
}

func openPostgres(ctx context.Context, dbURL string) (*pgStore, error) {
	u := withParam(dbURL, "application_name", benchAppName)
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, err
	}
	w, err := pgx.Connect(ctx, u)
	if err != nil {
		c.Close(ctx)
		return nil, err
	}
	return &pgStore{conn: c, watchConn: w}, nil
}

func (p *pgStore) close() {
	p.conn.Close(context.Background())
	p.watchConn.Close(context.Background())
}

func (p *pgStore) passwordHash(ctx context.Context, key string) (string, error) {
	var h string
	err := p.conn.QueryRow(ctx, "SELECT password_hash FROM users WHERE username_key = $1", key).Scan(&h)
	return h, err
}

func (p *pgStore) addUsers(ctx context.Context, from, to int, name func(int) string, hash string) error {
	return copyUsers(ctx, p.conn, from, to, name, hash, nil)
}

// copyUsers inserts users from..to-1 with COPY; ids, if not nil, receives
// their ids.
func copyUsers(ctx context.Context, c *pgx.Conn, from, to int, name func(int) string, hash string, ids []uuid.UUID) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	i := from
	_, err := c.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "username", "username_key", "password_hash", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= to {
				return nil, nil
			}
			id := uuid.Must(uuid.NewV7())
			if ids != nil {
				ids[i-from] = id
			}
			n := name(i)
			i++
			return []any{id, n, strings.ToLower(n), hash, now, now}, nil
		}))
	return err
}

func (p *pgStore) watch() connWatch { return &pgWatch{conn: p.watchConn} }

// pgWatch samples pg_stat_activity during the steady phase.
type pgWatch struct {
	conn     *pgx.Conn
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	pids     map[uint32]bool
	sessions int64
	err      error
}

func (w *pgWatch) sessionCount(ctx context.Context) (int64, error) {
	var n int64
	err := w.conn.QueryRow(ctx, "SELECT sessions FROM pg_stat_database WHERE datname = $1", benchDatabase).Scan(&n)
	return n, err
}

func (w *pgWatch) start(ctx context.Context, since time.Time) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.pids = map[uint32]bool{}
	w.sessions, w.err = w.sessionCount(ctx)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			rows, err := w.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND backend_start >= $3",
				benchDatabase, serverAppName, since)
			if err == nil {
				for rows.Next() {
					var pid uint32
					if rows.Scan(&pid) == nil {
						w.pids[pid] = true
					}
				}
				rows.Close()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (w *pgWatch) stop() (int, int64, string) {
	w.cancel()
	w.wg.Wait()
	if w.err != nil {
		return len(w.pids), -1, connsMethod
	}
	// pg_stat_database counters are flushed by each backend at most once a
	// second: give the last ones time to arrive.
	time.Sleep(1100 * time.Millisecond)
	after, err := w.sessionCount(context.Background())
	if err != nil {
		return len(w.pids), -1, connsMethod
	}
	return len(w.pids), after - w.sessions, connsMethod
}

// seedScale adds users and sessions (3 per user by default) with COPY: one
// shared precomputed argon2id hash, made with the service's parameters, and
// foreign-key triggers off for the seeding connection only (its rows are
// consistent by construction), then ANALYZE.
func seedScale(ctx context.Context, c *pgx.Conn, users, sessions, offset int) error {
	start := time.Now()
	hash, err := sharedHash(ctx)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return fmt.Errorf("turn foreign-key triggers off while seeding (needs a superuser): %w", err)
	}
	defer c.Exec(context.Background(), "SET session_replication_role = DEFAULT")
	ids := make([]uuid.UUID, users)
	if err := copyUsers(ctx, c, offset, offset+users, func(i int) string { return fmt.Sprintf("x%08d", i) }, hash, ids); err != nil {
		return fmt.Errorf("copy users: %w", err)
	}
	fmt.Printf("\nscale seed: %d users in %s", users, time.Since(start).Round(time.Millisecond))
	now := time.Now().UTC().Truncate(time.Microsecond)
	i := 0
	_, err = c.CopyFrom(ctx, pgx.Identifier{"sessions"},
		[]string{"id", "user_id", "created_at", "expires_at", "refresh_id", "refresh_issued_at", "refresh_expires_at", "last_used_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= sessions {
				return nil, nil
			}
			uid := ids[i%len(ids)]
			i++
			created := now.Add(-time.Duration(i%86400) * time.Second)
			return []any{uuid.Must(uuid.NewV7()), uid, created, created.Add(30 * 24 * time.Hour), uuid.New(), created, created.Add(7 * 24 * time.Hour), created}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy sessions: %w", err)
	}
	if _, err := c.Exec(ctx, "ANALYZE users; ANALYZE sessions"); err != nil {
		return err
	}
	var nu, ns int64
	_ = c.QueryRow(ctx, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions)").Scan(&nu, &ns)
	fmt.Printf(", %d sessions, ANALYZE: %s in all; the database now holds %d users and %d sessions\n", sessions, time.Since(start).Round(time.Millisecond), nu, ns)
	return nil
}

// sharedHash hashes benchPassword once with the service's default argon2id
// parameters, through its own hasher.
func sharedHash(ctx context.Context) (string, error) {
	cfg := bootstrap.Defaults()
	pw, err := user.PasswordPolicy{}.ForCheck(benchPassword)
	if err != nil {
		return "", err
	}
	h, err := passwords.NewHasher(passwords.Params{Memory: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads}).Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	return h.Reveal(), nil
}

// explainHotQueries prints the plans of the statements the hot paths run,
// written as the stores write them, on a real user, session and chat.
func explainHotQueries(ctx context.Context, c *pgx.Conn, a *actor) error {
	uid, sid := a.claims.Principal.UserID.String(), a.claims.Principal.SessionID.String()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	queries := []struct{ name, sql string }{
		{"GET /me: Users.ByID", fmt.Sprintf("SELECT * FROM users WHERE id = '%s' LIMIT 1", uid)},
		{"login: Users.ByUsername", fmt.Sprintf("SELECT * FROM users WHERE username_key = '%s' LIMIT 1", strings.ToLower(a.username))},
		{"refresh: Sessions.Rotate", fmt.Sprintf("UPDATE sessions SET previous_refresh_id = refresh_id, refresh_id = '%s', last_used_at = '%s'"+
			" WHERE id = '%s' AND refresh_id = '%s' AND revoked_at IS NULL AND expires_at > '%s' AND refresh_expires_at > '%s' RETURNING *",
			uuid.NewString(), now, sid, uuid.NewString(), now, now)},
		{"login: Sessions.Start, lock the user", fmt.Sprintf("SELECT id FROM users WHERE id = '%s' FOR NO KEY UPDATE", uid)},
		{"login: Sessions.Start, evict beyond the cap", fmt.Sprintf("UPDATE sessions SET revoked_at = '%s' WHERE revoked_at IS NULL AND id IN (SELECT id FROM sessions"+
			" WHERE user_id = '%s' AND revoked_at IS NULL AND expires_at > '%s' AND refresh_expires_at > '%s' ORDER BY last_used_at DESC, created_at DESC, id DESC LIMIT ALL OFFSET 49) RETURNING id",
			now, uid, now, now)},
		{"bearer routes on SQLite, or while the revocation listener is down: Revocations.Ended", fmt.Sprintf("SELECT 1 FROM sessions WHERE id = '%s' AND user_id = '%s' AND revoked_at IS NULL LIMIT 1", sid, uid)},
		{"chat read: Messages.List", fmt.Sprintf("SELECT * FROM messages WHERE chat_id = '%s' AND EXISTS (SELECT 1 FROM chats WHERE chats.id = '%s' AND chats.owner_id = '%s')"+
			" ORDER BY created_at DESC, id DESC LIMIT 51", a.chatID, a.chatID, uid)},
	}
	fmt.Println("\n### Query plans at scale (EXPLAIN, not executed)")
	for _, q := range queries {
		rows, err := c.Query(ctx, "EXPLAIN "+q.sql)
		if err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fmt.Printf("\n%s:\n", q.name)
		for _, l := range lines {
			fmt.Println("    " + l)
		}
	}
	return nil
}

// seedCommand is `loadbench seed`: migrate an existing PostgreSQL database
// and add users and sessions as -scale does.
func seedCommand(args []string) int {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	dbURL := fs.String("database-url", "", "postgres:// URL of the database to seed (required)")
	users := fs.Int("users", 1_000_000, "users to add")
	sessions := fs.Int("sessions", 3_000_000, "sessions to add, spread over the added users")
	_ = fs.Parse(args)
	if *dbURL == "" {
		fmt.Fprintln(os.Stderr, "loadbench seed: -database-url is required")
		return 2
	}
	ctx := context.Background()
	if err := seedDatabase(ctx, *dbURL, *users, *sessions); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench seed:", err)
		return 1
	}
	return 0
}

func seedDatabase(ctx context.Context, dbURL string, users, sessions int) error {
	db, dialect, err := sqlstore.Open(ctx, sqlstore.Options{DatabaseURL: dbURL, MaxOpenConns: 1})
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if dialect != sqlstore.Postgres {
		return errors.New("seed needs a postgres:// URL")
	}
	if err := sqlstore.Migrate(ctx, sqlDB, dialect, "up"); err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, withParam(dbURL, "application_name", benchAppName))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var offset int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&offset); err != nil {
		return err
	}
	return seedScale(ctx, c, users, sessions, offset)
}
