package tokenverify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Revocations; they match the service's event contract.
const (
	// DefaultStream is the JetStream stream the service publishes to.
	DefaultStream = "USERSVC_EVENTS"
	// DefaultSubjectPrefix starts the subject of every event
	// (usersvc.events.<type>).
	DefaultSubjectPrefix = "usersvc.events."
	// DefaultCatchUpTimeout bounds how long New waits to read the events of
	// the last access-token lifetime.
	DefaultCatchUpTimeout = 5 * time.Second
)

// The event types that revoke tokens.
const (
	eventSessionRevoked = "session.revoked"
	eventUserDisabled   = "user.disabled"
	eventUserDeleted    = "user.deleted"
)

// Revocations configures following the service's events so that Verify
// refuses revoked sessions and disabled or deleted users at once. The
// Verifier reads the stream with an ordered, in-memory JetStream consumer
// that starts one access-token lifetime (plus the leeway) in the past, so a
// revocation made while this process was down or disconnected still counts,
// and it catches up on what it missed after a reconnection.
type Revocations struct {
	// NATSURL is the server to connect to, e.g. nats://127.0.0.1:4222;
	// ignored when Conn is set.
	NATSURL string
	// Conn is a connection of the caller's to use instead; Close leaves it
	// open.
	Conn *nats.Conn
	// Stream is the JetStream stream; empty means DefaultStream. It must
	// exist when New is called (the service creates it when it starts with
	// EVENTS_NATS_URL set).
	Stream string
	// SubjectPrefix starts every event's subject; empty means
	// DefaultSubjectPrefix.
	SubjectPrefix string
	// MaxEntries bounds the revoked sessions and users remembered; zero
	// means DefaultMaxRevocations.
	MaxEntries int
	// CatchUpTimeout bounds how long New waits to read the recent events
	// before it returns anyway (logging a warning); zero means
	// DefaultCatchUpTimeout.
	CatchUpTimeout time.Duration
}

// cloudEvent is the part of the service's CloudEvents 1.0 documents that
// revocation reads.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Time        time.Time       `json:"time"`
	Data        json.RawMessage `json:"data"`
}

// revocationData is the data of session.revoked ({id, user_id, at,
// reason}) and of user.disabled and user.deleted ({id, at}).
type revocationData struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

// follower reads the service's events into a revocationSet.
type follower struct {
	consume jetstream.ConsumeContext
	conn    *nats.Conn // closed by stop when the follower opened it
	own     bool
}

// follow starts the consumer and waits, within startCtx and the catch-up
// timeout, until it has read every event already in the stream's window.
func follow(startCtx, runCtx context.Context, rc Revocations, set *revocationSet, cfg Config, log *slog.Logger) (*follower, error) {
	if rc.Stream == "" {
		rc.Stream = DefaultStream
	}
	if rc.SubjectPrefix == "" {
		rc.SubjectPrefix = DefaultSubjectPrefix
	}
	if rc.CatchUpTimeout <= 0 {
		rc.CatchUpTimeout = DefaultCatchUpTimeout
	}
	f := &follower{conn: rc.Conn}
	if f.conn == nil {
		if rc.NATSURL == "" {
			return nil, errors.New("tokenverify: Revocations needs NATSURL or Conn")
		}
		nc, err := nats.Connect(rc.NATSURL, nats.Name("tokenverify"), nats.MaxReconnects(-1), nats.Timeout(cfg.HTTPTimeout))
		if err != nil {
			return nil, fmt.Errorf("tokenverify: connect to NATS: %w", err)
		}
		f.conn, f.own = nc, true
	}
	fail := func(err error) (*follower, error) {
		if f.own {
			f.conn.Close()
		}
		return nil, err
	}
	js, err := jetstream.New(f.conn)
	if err != nil {
		return fail(fmt.Errorf("tokenverify: JetStream: %w", err))
	}
	// The stream's clock, not cfg.Now, dates its messages.
	start := time.Now().Add(-set.keep)
	cons, err := js.OrderedConsumer(startCtx, rc.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{rc.SubjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fail(fmt.Errorf("tokenverify: stream %s not found (the service creates it when it starts with EVENTS_NATS_URL): %w", rc.Stream, err))
	}
	if err != nil {
		return fail(fmt.Errorf("tokenverify: follow stream %s: %w", rc.Stream, err))
	}

	caughtUp := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { close(caughtUp) }) }
	f.consume, err = cons.Consume(func(msg jetstream.Msg) {
		apply(msg.Data(), set, cfg.Now(), log)
		if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
			done()
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		log.WarnContext(runCtx, "tokenverify: reading the service's events", "err", err.Error())
	}))
	if err != nil {
		return fail(fmt.Errorf("tokenverify: follow stream %s: %w", rc.Stream, err))
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		done()
	}
	select {
	case <-caughtUp:
	case <-time.After(rc.CatchUpTimeout):
		log.WarnContext(startCtx, "tokenverify: recent revocations not all read yet; going on", "timeout", rc.CatchUpTimeout.String())
	case <-startCtx.Done():
		f.stop()
		return nil, fmt.Errorf("tokenverify: read recent revocations: %w", startCtx.Err())
	}
	return f, nil
}

// apply records one event if it revokes tokens; anything else, unreadable
// documents included, is skipped (an unreadable one is logged, without its
// content).
func apply(body []byte, set *revocationSet, now time.Time, log *slog.Logger) {
	var ev cloudEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.SpecVersion != "1.0" {
		log.Warn("tokenverify: skipped an event that is not a CloudEvents 1.0 JSON document")
		return
	}
	if ev.Type != eventSessionRevoked && ev.Type != eventUserDisabled && ev.Type != eventUserDeleted {
		return
	}
	var d revocationData
	if err := json.Unmarshal(ev.Data, &d); err != nil || !isUUID(d.ID) {
		log.Warn("tokenverify: skipped an event whose data does not name a session or user", "event_id", ev.ID, "type", ev.Type)
		return
	}
	at := d.At
	if at.IsZero() {
		at = ev.Time
	}
	if at.IsZero() {
		at = now
	}
	if ev.Type == eventSessionRevoked {
		set.revokeSession(d.ID, at, now)
		return
	}
	set.revokeUser(d.ID, at, now)
}

// stop ends the consumer and closes a connection the follower opened.
func (f *follower) stop() {
	if f.consume != nil {
		f.consume.Stop()
		select {
		case <-f.consume.Closed():
		case <-time.After(2 * time.Second):
		}
	}
	if f.own {
		f.conn.Close()
	}
}
