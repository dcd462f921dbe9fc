package eventrelay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/adapters/memory"
	"example.com/usersvc/application/eventrelay"
	"example.com/usersvc/ports"
)

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *manualClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// broker records what it is given, and fails while down or for the ids in
// failOnce (once each).
type broker struct {
	mu       sync.Mutex
	got      []ports.Event
	down     bool
	failOnce map[uuid.UUID]bool
}

func (b *broker) Publish(_ context.Context, e ports.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down || b.failOnce[e.ID] {
		delete(b.failOnce, e.ID)
		return fmt.Errorf("%w: broker down", ports.ErrUnavailable)
	}
	b.got = append(b.got, e)
	return nil
}

func (b *broker) types() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.got {
		out = append(out, e.Type)
	}
	return out
}

type world struct {
	clock  *manualClock
	db     *memory.DB
	outbox *memory.Outbox
	broker *broker
	relay  *eventrelay.RelayEvents
	purge  *eventrelay.PurgeDelivered
}

func newWorld(t *testing.T, subs ...ports.Subscriber) *world {
	t.Helper()
	w := &world{clock: &manualClock{now: t0}, db: memory.NewDB(), broker: &broker{failOnce: map[uuid.UUID]bool{}}}
	w.outbox = memory.NewOutbox(w.db)
	d := eventrelay.Deps{
		Outbox: w.outbox, Publisher: w.broker, Subscribers: subs, Clock: w.clock,
		Settings: eventrelay.Settings{BatchSize: 10, FirstRetry: time.Second, MaxRetry: 8 * time.Second, Retention: time.Hour, PurgeBatchTimeout: time.Second},
	}
	w.relay, w.purge = eventrelay.NewRelayEvents(d), eventrelay.NewPurgeDelivered(d)
	return w
}

func (w *world) record(t *testing.T, subject uuid.UUID, types ...string) []ports.Event {
	t.Helper()
	var events []ports.Event
	for _, typ := range types {
		events = append(events, ports.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Subject: subject, Time: w.clock.Now(), Data: json.RawMessage(`{"k":1}`)})
	}
	if err := w.outbox.Record(t.Context(), events...); err != nil {
		t.Fatal(err)
	}
	return events
}

func (w *world) round(t *testing.T) eventrelay.Round {
	t.Helper()
	r, err := w.relay.Do(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRelayDeliversInOrderAndOnce(t *testing.T) {
	var seen []string
	w := newWorld(t, func(_ context.Context, e ports.Event) error { seen = append(seen, e.Type); return nil })
	x, y := uuid.New(), uuid.New()
	w.record(t, x, "x1", "x2")
	w.record(t, y, "y1")
	w.record(t, x, "x3")
	r := w.round(t)
	if r.Delivered != 4 || r.Full || len(r.Failures) != 0 {
		t.Fatalf("round %+v", r)
	}
	want := []string{"x1", "x2", "y1", "x3"}
	if got := w.broker.types(); !slices.Equal(got, want) || !slices.Equal(seen, want) {
		t.Fatalf("broker got %v, subscriber %v, want %v", got, seen, want)
	}
	if r := w.round(t); r.Claimed != 0 {
		t.Fatalf("second round claimed %d, want nothing: each event is delivered once", r.Claimed)
	}
	if b, _ := w.outbox.Backlog(t.Context()); b.Undelivered != 0 {
		t.Errorf("backlog %+v", b)
	}
}

func TestRelayBatchesFull(t *testing.T) {
	w := newWorld(t)
	var types []string
	for i := range 25 {
		types = append(types, fmt.Sprint(i))
	}
	w.record(t, uuid.New(), types...)
	if r := w.round(t); r.Delivered != 10 || !r.Full {
		t.Fatalf("first round %+v, want a full batch of 10", r)
	}
	w.round(t)
	if r := w.round(t); r.Delivered != 5 || r.Full {
		t.Fatalf("third round %+v, want the last 5", r)
	}
	if got := w.broker.types(); !slices.Equal(got, types) {
		t.Fatalf("order %v", got)
	}
}

func TestBrokerOutageDefersWithBackoffAndLosesNothing(t *testing.T) {
	w := newWorld(t)
	x, y := uuid.New(), uuid.New()
	w.record(t, x, "x1", "x2")
	w.record(t, y, "y1")
	w.broker.down = true
	r := w.round(t)
	if !r.BrokerDown || r.Delivered != 0 || len(r.Failures) != 1 || r.Failures[0].Type != "x1" || !r.Failures[0].Publish {
		t.Fatalf("round while down %+v, want one broker failure of x1, the round stopped", r)
	}
	// x1 waits 1s; y1 was not tried (the round stopped), so it is due.
	r = w.round(t)
	if len(r.Failures) != 1 || r.Failures[0].Type != "y1" {
		t.Fatalf("second round %+v, want y1 to fail (x is held back)", r)
	}
	if r := w.round(t); r.Claimed != 0 {
		t.Fatalf("third round claimed %d before any retry is due", r.Claimed)
	}
	// Backoff doubles: x1 fails again at 1s, then waits 2s.
	w.clock.advance(time.Second)
	w.round(t) // x1 fails (attempt 2)
	w.round(t) // y1 fails (attempt 2)
	w.clock.advance(time.Second)
	if r := w.round(t); r.Claimed != 0 {
		t.Fatalf("claimed %d one second after the second failure; the wait should be 2s", r.Claimed)
	}
	w.broker.down = false
	w.clock.advance(time.Second)
	if r := w.round(t); r.Delivered != 3 {
		t.Fatalf("after the outage: %+v, want all three delivered", r)
	}
	if got := w.broker.types(); !slices.Equal(got, []string{"x1", "x2", "y1"}) {
		t.Fatalf("broker got %v", got)
	}
}

func TestBackoffIsCapped(t *testing.T) {
	w := newWorld(t)
	w.record(t, uuid.New(), "a")
	w.broker.down = true
	for range 8 { // 1, 2, 4, 8, 8, ... seconds
		w.round(t)
		w.clock.advance(8 * time.Second)
	}
	w.broker.down = false
	if r := w.round(t); r.Delivered != 1 {
		t.Fatalf("after many failures the event is not due within the 8s cap: %+v", r)
	}
}

func TestAFailedEventHoldsBackOnlyItsUser(t *testing.T) {
	boom := errors.New("subscriber: not now")
	refuse := map[string]bool{"x1": true}
	var seen []string
	w := newWorld(t, func(_ context.Context, e ports.Event) error {
		if refuse[e.Type] {
			delete(refuse, e.Type)
			return boom
		}
		seen = append(seen, e.Type)
		return nil
	})
	x, y := uuid.New(), uuid.New()
	w.record(t, x, "x1")
	w.record(t, y, "y1")
	w.record(t, x, "x2")
	w.record(t, y, "y2")
	r := w.round(t)
	if r.BrokerDown || r.Delivered != 2 || len(r.Failures) != 1 || r.Failures[0].Publish || !errors.Is(r.Failures[0].Err, boom) {
		t.Fatalf("round %+v, want y1 y2 delivered and x1's subscriber failure", r)
	}
	if got := w.broker.types(); !slices.Equal(got, []string{"y1", "y2"}) {
		t.Fatalf("broker got %v: a subscriber's failure must keep the event (and x2) from the broker", got)
	}
	w.clock.advance(time.Second)
	if r := w.round(t); r.Delivered != 2 {
		t.Fatalf("retry round %+v", r)
	}
	if !slices.Equal(seen, []string{"y1", "y2", "x1", "x2"}) || !slices.Equal(w.broker.types(), []string{"y1", "y2", "x1", "x2"}) {
		t.Fatalf("subscriber saw %v, broker %v", seen, w.broker.types())
	}
}

func TestAPanickingSubscriberIsRetried(t *testing.T) {
	calls := 0
	w := newWorld(t, func(context.Context, ports.Event) error {
		calls++
		if calls == 1 {
			panic("subscriber bug")
		}
		return nil
	})
	w.record(t, uuid.New(), "a")
	if r := w.round(t); len(r.Failures) != 1 {
		t.Fatalf("round %+v, want the panic as a failure", r)
	}
	w.clock.advance(time.Second)
	if r := w.round(t); r.Delivered != 1 || calls != 2 {
		t.Fatalf("retry %+v after %d calls", r, calls)
	}
}

func TestPurgeDeletesDeliveredAfterRetention(t *testing.T) {
	w := newWorld(t)
	w.record(t, uuid.New(), "old")
	w.round(t)
	w.broker.down = true
	w.record(t, uuid.New(), "stuck")
	w.round(t)
	w.clock.advance(30 * time.Minute)
	if n, err := w.purge.Do(t.Context()); err != nil || n != 0 {
		t.Fatalf("purge within retention: %d, %v", n, err)
	}
	w.clock.advance(31 * time.Minute)
	if n, err := w.purge.Do(t.Context()); err != nil || n != 1 {
		t.Fatalf("purge after retention: %d, %v; want the delivered event only", n, err)
	}
	if left := w.outbox.Events(); len(left) != 1 || left[0].Type != "stuck" {
		t.Fatalf("left %v, want the undelivered event", left)
	}
}

// deadlineOutbox is the memory outbox whose marks fail once their context
// is done, as a database's statements do.
type deadlineOutbox struct{ *memory.Outbox }

func (o deadlineOutbox) MarkDelivered(ctx context.Context, at time.Time, seqs ...int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	}
	return o.Outbox.MarkDelivered(ctx, at, seqs...)
}

// stallingBroker acknowledges every event but stall, whose publish waits
// for its context to end, as a broker that never acknowledges does.
type stallingBroker struct {
	broker
	stall uuid.UUID
}

func (b *stallingBroker) Publish(ctx context.Context, e ports.Event) error {
	if e.ID == b.stall {
		<-ctx.Done()
		return fmt.Errorf("%w: no acknowledgement: %w", ports.ErrUnavailable, ctx.Err())
	}
	return b.broker.Publish(ctx, e)
}

// TestAStalledPublishLeavesTimeToMarkTheDelivered: a publish that waits for
// its acknowledgement until the round's deadline must not take the time
// the round keeps for its marks: the events delivered before it stay
// delivered (not sent again next round), and the stalled one waits for the
// next round, with no attempt counted.
func TestAStalledPublishLeavesTimeToMarkTheDelivered(t *testing.T) {
	clk := &manualClock{now: t0}
	db := memory.NewDB()
	outbox := deadlineOutbox{memory.NewOutbox(db)}
	x, y := uuid.New(), uuid.New()
	first := ports.Event{ID: uuid.Must(uuid.NewV7()), Type: "x1", Subject: x, Time: t0, Data: json.RawMessage(`{}`)}
	stalled := ports.Event{ID: uuid.Must(uuid.NewV7()), Type: "y1", Subject: y, Time: t0, Data: json.RawMessage(`{}`)}
	if err := outbox.Record(t.Context(), first, stalled); err != nil {
		t.Fatal(err)
	}
	b := &stallingBroker{broker: broker{failOnce: map[uuid.UUID]bool{}}, stall: stalled.ID}
	relay := eventrelay.NewRelayEvents(eventrelay.Deps{
		Outbox: outbox, Publisher: b, Clock: clk,
		Settings: eventrelay.Settings{BatchSize: 10, FirstRetry: time.Second, MaxRetry: 8 * time.Second},
	})
	// The round's deadline leaves the 2 s mark reserve plus a little.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second+300*time.Millisecond)
	defer cancel()
	r, err := relay.Do(ctx)
	if err != nil {
		t.Fatalf("round with a stalled publish failed: %v (its marks ran out of time)", err)
	}
	if r.Delivered != 1 || len(r.Failures) != 0 {
		t.Fatalf("round %+v, want x1 delivered and y1 left for the next round uncounted", r)
	}
	b.stall = uuid.Nil
	r, err = relay.Do(t.Context())
	if err != nil || r.Claimed != 1 || r.Delivered != 1 {
		t.Fatalf("next round %+v, %v; want only y1, delivered", r, err)
	}
	if got := b.types(); !slices.Equal(got, []string{"x1", "y1"}) {
		t.Fatalf("broker got %v, want x1 once, then y1", got)
	}
}
