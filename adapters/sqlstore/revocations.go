package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// revocationChannel is the PostgreSQL notification channel on which every
// ended session's id is announced, inside the transaction that ends it.
const revocationChannel = "usersvc_session_ended"

// listenerHeartbeat is how often an idle listener checks that its connection
// still answers, so a stalled connection stops being trusted within seconds.
const listenerHeartbeat = 5 * time.Second

// Revocations is ports.Revocations on the sessions table: it tells the
// authenticator of every bounded context whether a session has ended.
//
// On PostgreSQL the check costs no database round trip in the steady state:
// each instance keeps in memory the sessions ended within Horizon (older
// ones can have no live access token), learns of new ones by LISTEN/NOTIFY
// (Listen), and reloads the recent ones from the sessions table whenever its
// listener connects or reconnects. While the listener is not connected and
// reloaded, Ended asks the table, once per call, so it never fails open.
//
// On SQLite another process may share the file (a second serve, an admin
// command), and SQLite has no notifications, so Ended asks the table on
// every call: a local indexed lookup of microseconds.
//
// Sessions ended by this process are known at once, when their transaction
// commits. Safe for concurrent use.
type Revocations struct {
	db       *gorm.DB
	postgres bool
	horizon  time.Duration
	now      func() time.Time
	log      *slog.Logger

	trusted   atomic.Bool // the listener is connected and has reloaded
	mu        sync.Mutex
	ended     map[uuid.UUID]time.Time // session id -> when this process learnt it ended
	lastPrune time.Time
}

var _ ports.Revocations = (*Revocations)(nil)

// RevocationOptions configure Revocations.
type RevocationOptions struct {
	// Horizon is how long after its end a session may still have an
	// unexpired access token: the access-token lifetime plus the verifier's
	// clock leeway. Ended sessions are forgotten after it.
	Horizon time.Duration
	// Clock reads the time; nil means time.Now.
	Clock func() time.Time
	// Logger receives the listener's connection changes; nil discards them.
	Logger *slog.Logger
}

// NewRevocations returns the Revocations of the sessions table on db, the
// handle Open returned. It does not listen; on PostgreSQL call Listen.
func NewRevocations(db *gorm.DB, o RevocationOptions) *Revocations {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Revocations{
		db:       db,
		postgres: db.Dialector.Name() == "postgres",
		horizon:  o.Horizon,
		now:      o.Clock,
		log:      o.Logger,
		ended:    map[uuid.UUID]time.Time{},
	}
}

// Ended reports whether p's session has ended: revoked, unknown, a deleted
// account's tombstone, or another user's. Expiry is not checked here: an
// access token never outlives its session's absolute end, and its refresh
// token outlives it. Failures to reach the database wrap ports.ErrUnavailable.
func (r *Revocations) Ended(ctx context.Context, p ports.Principal) (bool, error) {
	r.mu.Lock()
	_, known := r.ended[p.SessionID]
	r.mu.Unlock()
	if known {
		return true, nil
	}
	if r.trusted.Load() {
		return false, nil
	}
	// A raw GORM statement scanned by hand: on SQLite this runs on every
	// bearer request, and GORM's Count builds and reflects more than the
	// lookup itself costs.
	var one int
	err := conn(ctx, r.db).Raw("SELECT 1 FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL LIMIT 1",
		p.SessionID.String(), p.UserID.String()).Row().Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, translate(err)
	}
	return false, nil
}

// Trusted reports whether Ended answers from memory: the listener is
// connected and has reloaded the recent revocations. For metrics and tests.
func (r *Revocations) Trusted() bool { return r.trusted.Load() }

// note records sessions that have ended, now, and forgets, at most once a
// minute, those that ended longer than the horizon ago.
func (r *Revocations) note(ids []user.SessionID) {
	at := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.ended[uuid.UUID(id)] = at
	}
	if at.Sub(r.lastPrune) > time.Minute {
		r.pruneLocked(at)
	}
}

// prune forgets sessions that ended longer than the horizon ago.
func (r *Revocations) prune() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(r.now())
}

func (r *Revocations) pruneLocked(now time.Time) {
	r.lastPrune = now
	cutoff := now.Add(-r.horizon)
	for id, at := range r.ended {
		if at.Before(cutoff) {
			delete(r.ended, id)
		}
	}
}

// Listen keeps a dedicated connection (cfg, as ListenerConfig builds it)
// listening for ended sessions until ctx is done, reconnecting with backoff
// when it fails; it returns only then. Each time it has connected, issued
// LISTEN and reloaded the revocations of the last horizon from the sessions
// table, Ended answers from memory; from the moment the connection fails
// until the next reload, Ended asks the table. It is a no-op on SQLite.
func (r *Revocations) Listen(ctx context.Context, cfg *pgx.ConnConfig) {
	if !r.postgres {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, cfg, func() { backoff = 100 * time.Millisecond })
		if r.trusted.Swap(false) {
			r.log.Warn("revocation listener lost; checking sessions in the database until it is back", "err", errText(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce connects, listens, reloads and then records notifications until
// the connection fails or ctx is done. connected is called once trusted.
func (r *Revocations) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, connected func()) error {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	// Reload after LISTEN: a revocation committed in between is in both.
	rows, err := c.Query(ctx, "SELECT id FROM sessions WHERE revoked_at > $1", r.now().Add(-r.horizon))
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	r.note(toSessionIDs(ids))
	r.trusted.Store(true)
	connected()
	r.log.Info("revocation listener connected", "recent_revocations", len(ids))
	for {
		wait, cancel := context.WithTimeout(ctx, listenerHeartbeat)
		n, err := c.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			id, perr := uuid.Parse(n.Payload)
			if perr != nil {
				r.log.Warn("revocation notification with a malformed session id ignored")
				continue
			}
			r.note([]user.SessionID{user.SessionID(id)})
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			r.prune()
			ping, cancel := context.WithTimeout(ctx, listenerHeartbeat)
			err := c.Ping(ping)
			cancel()
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		default:
			return err
		}
	}
}

func toSessionIDs(ids []uuid.UUID) []user.SessionID {
	out := make([]user.SessionID, len(ids))
	for i, id := range ids {
		out[i] = user.SessionID(id)
	}
	return out
}

// ListenerConfig builds the connection configuration of the revocation
// listener from a postgres:// DATABASE_URL: the pool's dialer (keepalive and
// user timeout, so a dead peer is noticed) and connect timeout, and the
// application name "usersvc-revocations" so operators can tell the
// connection apart.
func ListenerConfig(databaseURL string) (*pgx.ConnConfig, error) {
	cfg, err := postgresConfig(databaseURL, 0)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	return cfg, nil
}

// ListenerApplicationName is the application_name of the listener's
// connection, as pg_stat_activity shows it.
const ListenerApplicationName = "usersvc-revocations"

// errText is err's text for a log line: driver errors name hosts and
// SQLSTATEs, never passwords or bound values.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
