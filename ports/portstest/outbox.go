package portstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

// OutboxSet is one implementation of the outbox's two sides: what the
// contexts record into (ports.Events), what the relay delivers from
// (ports.Outbox, the same store), and the Transactor they share.
type OutboxSet struct {
	Events ports.Events
	Outbox ports.Outbox
	Tx     ports.Transactor
}

// Outbox runs the relay's contract of ports.Outbox against the
// implementation that fresh builds: a new, empty, migrated store per
// subtest, cleaned up with t.Cleanup; subtests run in parallel.
func Outbox(t *testing.T, fresh func(t *testing.T) OutboxSet) {
	t.Helper()
	for name, test := range map[string]func(*testing.T, OutboxSet){
		"ClaimInOrderWithinLimit":         testClaimInOrder,
		"DeliveredAreNotClaimedAgain":     testDeliveredNotClaimed,
		"FailedWaitAndHoldBackSubject":    testFailedHoldBackSubject,
		"WaitingSubjectStarvesNoOther":    testWaitingSubjectStarvesNoOther,
		"FailingClaimReturnsItsError":     testFailingClaim,
		"PurgeDeletesOnlyOldDelivered":    testPurge,
		"BacklogCountsUndelivered":        testBacklog,
		"RecordedWakesAfterRecord":        testRecordedWakes,
		"RolledBackEventsAreNeverClaimed": testRolledBackNotClaimed,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, fresh(t))
		})
	}
}

// event is an event of subject of type typ at t0+minute minutes.
func event(subject uuid.UUID, typ string, minute int) ports.Event {
	return ports.Event{
		ID: uuid.Must(uuid.NewV7()), Type: typ, Subject: subject, Time: t0.Add(time.Duration(minute) * time.Minute),
		Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"n":%d}`, subject, minute)),
	}
}

func record(t *testing.T, s OutboxSet, events ...ports.Event) {
	t.Helper()
	if err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error { return s.Events.Record(ctx, events...) }); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

// claim returns the batch Claim gives at now, after applying mark to it
// inside the claim.
func claim(t *testing.T, s OutboxSet, now time.Time, limit int, mark func(ctx context.Context, batch []ports.PendingEvent) error) []ports.PendingEvent {
	t.Helper()
	var got []ports.PendingEvent
	err := s.Outbox.Claim(t.Context(), now, limit, func(ctx context.Context, batch []ports.PendingEvent) error {
		if len(batch) == 0 {
			t.Error("Claim called fn with an empty batch")
		}
		got = batch
		if mark != nil {
			return mark(ctx, batch)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return got
}

func ids(batch []ports.PendingEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(batch))
	for i, e := range batch {
		out[i] = e.ID
	}
	return out
}

func eventIDs(events ...ports.Event) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func testClaimInOrder(t *testing.T, s OutboxSet) {
	x, y := uuid.New(), uuid.New()
	a, b, c, d := event(x, "user.created", 0), event(y, "user.created", 1), event(x, "session.started", 2), event(y, "user.deleted", 3)
	record(t, s, a, b)
	record(t, s, c, d)
	now := t0.Add(time.Hour)
	got := claim(t, s, now, 3, nil)
	if !slices.Equal(ids(got), eventIDs(a, b, c)) {
		t.Fatalf("Claim(limit 3) = %v, want the first three in order %v", ids(got), eventIDs(a, b, c))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("Seq not increasing: %d then %d", got[i-1].Seq, got[i].Seq)
		}
	}
	e := got[0]
	if e.Type != a.Type || e.Subject != x || !e.Time.Equal(a.Time) || e.Attempts != 0 {
		t.Errorf("claimed %+v, want %+v with 0 attempts", e, a)
	}
	var data, want map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil || json.Unmarshal(a.Data, &want) != nil || fmt.Sprint(data) != fmt.Sprint(want) {
		t.Errorf("data %s, want %s (%v)", e.Data, a.Data, err)
	}
	// Nothing marked: the same events again.
	if again := claim(t, s, now, 10, nil); !slices.Equal(ids(again), eventIDs(a, b, c, d)) {
		t.Errorf("second Claim = %v, want all four", ids(again))
	}
}

func testDeliveredNotClaimed(t *testing.T, s OutboxSet) {
	x := uuid.New()
	a, b := event(x, "user.created", 0), event(x, "session.started", 1)
	record(t, s, a, b)
	now := t0.Add(time.Hour)
	claim(t, s, now, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
		return s.Outbox.MarkDelivered(ctx, now, batch[0].Seq)
	})
	if got := claim(t, s, now, 10, nil); !slices.Equal(ids(got), eventIDs(b)) {
		t.Fatalf("after delivering a: Claim = %v, want only b", ids(got))
	}
	claim(t, s, now, 10, func(ctx context.Context, batch []ports.PendingEvent) error {
		return s.Outbox.MarkDelivered(ctx, now, batch[0].Seq)
	})
	called := false
	if err := s.Outbox.Claim(t.Context(), now, 10, func(context.Context, []ports.PendingEvent) error { called = true; return nil }); err != nil || called {
		t.Fatalf("Claim with nothing due: called fn %v, err %v", called, err)
	}
}

func testFailedHoldBackSubject(t *testing.T, s OutboxSet) {
	x, y := uuid.New(), uuid.New()
	x1, y1, x2, y2 := event(x, "user.created", 0), event(y, "user.created", 1), event(x, "user.updated", 2), event(y, "user.updated", 3)
	record(t, s, x1, y1, x2, y2)
	now := t0.Add(time.Hour)
	retry := now.Add(10 * time.Second)
	claim(t, s, now, 10, func(ctx context.Context, batch []ports.PendingEvent) error {
		if err := s.Outbox.MarkFailed(ctx, batch[0].Seq, retry); err != nil { // x1 failed
			return err
		}
		return s.Outbox.MarkDelivered(ctx, now, batch[1].Seq) // y1
	})
	// x1 waits for its retry, and x2 waits behind it; y2 goes on.
	if got := claim(t, s, now.Add(time.Second), 10, nil); !slices.Equal(ids(got), eventIDs(y2)) {
		t.Fatalf("before the retry: Claim = %v, want only y2 (x2 must not overtake x1)", ids(got))
	}
	got := claim(t, s, retry, 10, nil)
	if !slices.Equal(ids(got), eventIDs(x1, x2, y2)) {
		t.Fatalf("at the retry: Claim = %v, want x1, x2, y2", ids(got))
	}
	if got[0].Attempts != 1 || got[1].Attempts != 0 {
		t.Errorf("attempts %d, %d, want 1 for x1, 0 for x2", got[0].Attempts, got[1].Attempts)
	}
	// A second failure counts again.
	claim(t, s, retry, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
		return s.Outbox.MarkFailed(ctx, batch[0].Seq, retry.Add(time.Minute))
	})
	if got := claim(t, s, retry.Add(time.Minute), 1, nil); got[0].ID != x1.ID || got[0].Attempts != 2 {
		t.Errorf("after two failures: %v with %d attempts, want x1 with 2", got[0].ID, got[0].Attempts)
	}
	// The limit also holds back: with x1 left out by the limit, nothing of
	// x is taken past it.
	if got := claim(t, s, retry.Add(time.Minute), 1, nil); !slices.Equal(ids(got), eventIDs(x1)) {
		t.Errorf("limit 1: %v", ids(got))
	}
}

// testWaitingSubjectStarvesNoOther: a subject whose event waits for its
// retry holds back only its own later events, however many: the limit is
// filled with other subjects' due events rather than spent on held ones.
func testWaitingSubjectStarvesNoOther(t *testing.T, s OutboxSet) {
	x, y := uuid.New(), uuid.New()
	const limit = 3
	x1 := event(x, "user.created", 0)
	record(t, s, x1)
	now := t0.Add(time.Hour)
	claim(t, s, now, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
		return s.Outbox.MarkFailed(ctx, batch[0].Seq, now.Add(time.Hour)) // x1 waits an hour
	})
	var held []ports.Event
	for i := range 2 * limit {
		held = append(held, event(x, "user.updated", 1+i))
	}
	record(t, s, held...)
	y1 := event(y, "user.created", 10)
	record(t, s, y1)
	if got := claim(t, s, now.Add(time.Second), limit, nil); !slices.Equal(ids(got), eventIDs(y1)) {
		t.Fatalf("with x1 waiting and %d later events of x: Claim(limit %d) = %v, want y1 %v", len(held), limit, ids(got), y1.ID)
	}
}

func testFailingClaim(t *testing.T, s OutboxSet) {
	record(t, s, event(uuid.New(), "user.created", 0))
	boom := errors.New("boom")
	if err := s.Outbox.Claim(t.Context(), t0.Add(time.Hour), 10, func(context.Context, []ports.PendingEvent) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Claim returned %v, want fn's error", err)
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, nil); len(got) != 1 {
		t.Fatalf("after a failed claim: %d events due, want 1", len(got))
	}
}

func testPurge(t *testing.T, s OutboxSet) {
	x := uuid.New()
	old, recent, pending := event(x, "user.created", 0), event(x, "user.updated", 1), event(x, "user.deleted", 2)
	record(t, s, old, recent, pending)
	now := t0.Add(time.Hour)
	deliver := func(at time.Time) {
		claim(t, s, at, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
			return s.Outbox.MarkDelivered(ctx, at, batch[0].Seq)
		})
	}
	deliver(now)                    // old
	deliver(now.Add(2 * time.Hour)) // recent
	n, err := s.Outbox.PurgeDelivered(t.Context(), now.Add(time.Hour), 10)
	if err != nil || n != 1 {
		t.Fatalf("PurgeDelivered = %d, %v; want 1 (only the event delivered before the cutoff)", n, err)
	}
	if n, err := s.Outbox.PurgeDelivered(t.Context(), now.Add(time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("second PurgeDelivered = %d, %v; want 0", n, err)
	}
	// The undelivered event is never purged, however late the cutoff; the
	// limit holds.
	if n, err := s.Outbox.PurgeDelivered(t.Context(), now.Add(1000*time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("PurgeDelivered(late cutoff) = %d, %v; want 1 (recent, not the pending one)", n, err)
	}
	if got := claim(t, s, now.Add(3*time.Hour), 10, nil); !slices.Equal(ids(got), eventIDs(pending)) {
		t.Fatalf("after purging: due %v, want the pending event", ids(got))
	}
	more := []ports.Event{event(x, "a", 3), event(x, "b", 4), event(x, "c", 5)}
	record(t, s, more...)
	claim(t, s, now.Add(3*time.Hour), 10, func(ctx context.Context, batch []ports.PendingEvent) error {
		seqs := []int64{}
		for _, e := range batch {
			seqs = append(seqs, e.Seq)
		}
		return s.Outbox.MarkDelivered(ctx, now.Add(3*time.Hour), seqs...)
	})
	if n, err := s.Outbox.PurgeDelivered(t.Context(), now.Add(4*time.Hour), 2); err != nil || n != 2 {
		t.Fatalf("PurgeDelivered(limit 2) = %d, %v", n, err)
	}
}

func testBacklog(t *testing.T, s OutboxSet) {
	b, err := s.Outbox.Backlog(t.Context())
	if err != nil || b.Undelivered != 0 || !b.Oldest.IsZero() {
		t.Fatalf("empty Backlog = %+v, %v", b, err)
	}
	x := uuid.New()
	first, second := event(x, "user.created", 0), event(x, "user.updated", 5)
	record(t, s, first, second)
	if b, err = s.Outbox.Backlog(t.Context()); err != nil || b.Undelivered != 2 || !b.Oldest.Equal(first.Time) {
		t.Fatalf("Backlog = %+v, %v; want 2 since %v", b, err, first.Time)
	}
	now := t0.Add(time.Hour)
	claim(t, s, now, 1, func(ctx context.Context, batch []ports.PendingEvent) error {
		return s.Outbox.MarkDelivered(ctx, now, batch[0].Seq)
	})
	if b, err = s.Outbox.Backlog(t.Context()); err != nil || b.Undelivered != 1 || !b.Oldest.Equal(second.Time) {
		t.Fatalf("Backlog after one delivery = %+v, %v; want 1 since %v", b, err, second.Time)
	}
}

func testRecordedWakes(t *testing.T, s OutboxSet) {
	select { // drain a wake-up of an earlier Record, if any
	case <-s.Outbox.Recorded():
	default:
	}
	record(t, s, event(uuid.New(), "user.created", 0))
	select {
	case <-s.Outbox.Recorded():
	case <-time.After(5 * time.Second):
		t.Fatal("Recorded did not receive after a committed Record")
	}
}

func testRolledBackNotClaimed(t *testing.T, s OutboxSet) {
	boom := errors.New("boom")
	err := s.Tx.Atomically(t.Context(), func(ctx context.Context) error {
		if err := s.Events.Record(ctx, event(uuid.New(), "user.created", 0)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if b, err := s.Outbox.Backlog(t.Context()); err != nil || b.Undelivered != 0 {
		t.Fatalf("Backlog after a rollback = %+v, %v; want nothing", b, err)
	}
}
