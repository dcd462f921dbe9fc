package natsevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"example.com/usersvc/ports"
)

// The stream the contract names, and what it holds.
const (
	// StreamName is the JetStream stream of the service's events.
	StreamName = "USERSVC_EVENTS"
	// SubjectPrefix precedes an event's type in its NATS subject.
	SubjectPrefix = "usersvc.events."
	// DuplicateWindow is how long the stream remembers an event id to drop
	// a second copy. A relay's prompt retry of an event whose
	// acknowledgement was lost, or whose mark did not commit, comes within
	// it; a retry after a longer outage of the broker or the database may
	// not, which is why consumers deduplicate on the id too.
	DuplicateWindow = 2 * time.Minute
	// Source is the CloudEvents source of every event.
	Source = "usersvc"
)

// Options tune the publisher.
type Options struct {
	// AckTimeout bounds the wait for the stream's acknowledgement of one
	// event (default 5s).
	AckTimeout time.Duration
}

// Publisher publishes events to JetStream on one NATS connection, which
// reconnects by itself for as long as the publisher lives. Safe for
// concurrent use.
type Publisher struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	ackTimeout time.Duration

	mu       sync.Mutex
	hasQueue bool // the stream was found or created on this server
}

var _ ports.Publisher = (*Publisher)(nil)

// Connect returns a publisher on the NATS server at url. It does not wait
// for the server: an unreachable server is retried in the background, and
// until it answers Publish fails at once with ports.ErrUnavailable.
func Connect(url string, o Options) (*Publisher, error) {
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	nc, err := nats.Connect(url,
		nats.Name("usersvc"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("natsevents: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsevents: %w", err)
	}
	return &Publisher{nc: nc, js: js, ackTimeout: o.AckTimeout}, nil
}

// Close closes the connection; Publish fails afterwards.
func (p *Publisher) Close() { p.nc.Close() }

// Publish sends e as a CloudEvents document to usersvc.events.<type> with
// Nats-Msg-Id = e.ID and waits for the stream's acknowledgement, creating
// the stream first if the server has none. While the connection is down it
// fails at once (the message would only wait in the reconnect buffer);
// every failure to reach the broker or the stream wraps ports.ErrUnavailable.
func (p *Publisher) Publish(ctx context.Context, e ports.Event) error {
	if !p.nc.IsConnected() {
		return fmt.Errorf("%w: nats: not connected (%s)", ports.ErrUnavailable, p.nc.Status())
	}
	body, err := Encode(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.ackTimeout)
	defer cancel()
	if err := p.ensureStream(ctx); err != nil {
		return err
	}
	msg := nats.NewMsg(SubjectPrefix + e.Type)
	msg.Header.Set(jetstream.MsgIDHeader, e.ID.String())
	msg.Data = body
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(StreamName)); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
			p.forgetStream() // the server may have lost it: look again next time
		}
		return fmt.Errorf("%w: nats: publish %s: %v", ports.ErrUnavailable, e.ID, err)
	}
	return nil
}

// StreamConfig is the stream the publisher creates when it is missing.
func StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "usersvc user and session events (CloudEvents 1.0 JSON)",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Duplicates:  DuplicateWindow,
	}
}

// ensureStream looks the stream up once per server and creates it if it is
// missing; an existing stream is left as the operator configured it.
func (p *Publisher) ensureStream(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hasQueue {
		return nil
	}
	_, err := p.js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = p.js.CreateStream(ctx, StreamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another instance created it first
		}
	}
	if err != nil {
		return fmt.Errorf("%w: nats: stream %s: %v", ports.ErrUnavailable, StreamName, err)
	}
	p.hasQueue = true
	return nil
}

func (p *Publisher) forgetStream() {
	p.mu.Lock()
	p.hasQueue = false
	p.mu.Unlock()
}

// cloudEvent is the CloudEvents 1.0 JSON form of an event, in the
// contract's field order.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Encode returns e as a CloudEvents 1.0 JSON document: source "usersvc",
// subject the user's id, time RFC 3339 in UTC (with the fraction the event
// has, as its data's timestamps), data the event's JSON object.
func Encode(e ports.Event) ([]byte, error) {
	if !json.Valid(e.Data) {
		return nil, fmt.Errorf("natsevents: event %s (%s) has invalid JSON data", e.ID, e.Type)
	}
	return json.Marshal(cloudEvent{
		SpecVersion:     "1.0",
		ID:              e.ID.String(),
		Source:          Source,
		Type:            e.Type,
		Subject:         e.Subject.String(),
		Time:            e.Time.UTC().Format(time.RFC3339Nano),
		DataContentType: "application/json",
		Data:            e.Data,
	})
}
