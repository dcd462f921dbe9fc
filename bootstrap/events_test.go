package bootstrap_test

// The event relay end to end: the real fx app on PostgreSQL and SQLite
// relaying to a real NATS JetStream server (TEST_NATS_URL, default
// nats://127.0.0.1:4222, shared by parallel tests: each test reads only the
// stream messages of the users it created), to in-process subscribers
// registered in the value group "event_subscribers", through a broker
// outage (on a private nats-server the test starts and stops), and with two
// instances relaying from one database.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/natsevents"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

// defaultNATSURL is the shared server CI starts (.ci/run).
const defaultNATSURL = "nats://127.0.0.1:4222"

// natsURL returns TEST_NATS_URL (or the default) once the server answers;
// without one the test is skipped, or fails when CI=true.
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_NATS_URL")
	if u == "" {
		u = defaultNATSURL
	}
	nc, err := nats.Connect(u, nats.Timeout(3*time.Second))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("NATS at %s is unreachable and CI=true makes it mandatory: %v", u, err)
		}
		t.Skipf("skipping, NATS at %s is unreachable (set CI=true to fail instead): %v", u, err)
	}
	nc.Close()
	return u
}

// streamEvent is one message of the stream, decoded.
type streamEvent struct {
	Seq             uint64 // the stream's sequence
	NATSSubject     string
	MsgID           string
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	raw             string
	fields          []string // the document's top-level keys, sorted
}

// stream reads the stream USERSVC_EVENTS on one server.
type stream struct {
	t    testing.TB
	js   jetstream.JetStream
	from uint64 // first sequence this test may read
}

// openStream connects to url and notes where the stream ends now: the
// test reads only what comes after. It creates the stream as the service
// would if it is missing, so the starting point is known.
func openStream(t testing.TB, url string) *stream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{t: t, js: js}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, natsevents.StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if str, err = js.CreateStream(ctx, natsevents.StreamConfig()); errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			str, err = js.Stream(ctx, natsevents.StreamName)
		}
	}
	if err != nil {
		t.Fatalf("stream %s: %v", natsevents.StreamName, err)
	}
	s.from = str.CachedInfo().State.LastSeq + 1
	return s
}

// events returns the stream's messages since openStream whose CloudEvents
// subject is in subjects (every one when subjects is nil), in stream order.
func (s *stream) events(subjects map[string]bool) []streamEvent {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	str, err := s.js.Stream(ctx, natsevents.StreamName)
	if err != nil {
		s.t.Fatalf("stream info: %v", err)
	}
	var out []streamEvent
	for seq := s.from; seq <= str.CachedInfo().State.LastSeq; seq++ {
		m, err := str.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			s.t.Fatalf("get message %d: %v", seq, err)
		}
		e := streamEvent{Seq: seq, NATSSubject: m.Subject, MsgID: m.Header.Get(jetstream.MsgIDHeader), raw: string(m.Data)}
		if err := json.Unmarshal(m.Data, &e); err != nil {
			s.t.Fatalf("message %d is not JSON: %v", seq, err)
		}
		var doc map[string]json.RawMessage
		_ = json.Unmarshal(m.Data, &doc)
		for k := range doc {
			e.fields = append(e.fields, k)
		}
		slices.Sort(e.fields)
		if subjects == nil || subjects[e.Subject] {
			out = append(out, e)
		}
	}
	return out
}

// backlog counts the outbox's undelivered rows.
func backlog(t testing.TB, gdb *gorm.DB) int {
	t.Helper()
	var n int64
	if err := gdb.Table("outbox").Where("delivered_at IS NULL").Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// waitDelivered waits until the outbox has nothing left to deliver.
func waitDelivered(t testing.TB, gdb *gorm.DB, within time.Duration) {
	t.Helper()
	eventually(t, within, "delivery of every recorded event", func() bool { return backlog(t, gdb) == 0 })
}

// withNATS points the app's relay at url, polling rarely: its own commits
// must wake it.
func withNATS(url string) option {
	return withConfig(func(c *bootstrap.Config) {
		c.EventsNATSURL = url
		c.EventsPollInterval = time.Minute
		c.EventsRetryMaxBackoff = 200 * time.Millisecond
	})
}

// withSubscriber registers sub in the value group "event_subscribers", as
// a bounded context would.
func withSubscriber(sub ports.Subscriber) option {
	return withFx(fx.Provide(fx.Annotate(func() ports.Subscriber { return sub }, fx.ResultTags(`group:"event_subscribers"`))))
}

// sleepyOutbox is an outbox whose commits never wake the relay.
type sleepyOutbox struct{ ports.Outbox }

func (sleepyOutbox) Recorded() <-chan struct{} { return nil }

// withRelayIdle keeps the relay from running after its first round at
// start: no wake-ups, and a poll interval longer than any test.
func withRelayIdle() option {
	return func(s *appSettings) {
		withConfig(func(c *bootstrap.Config) { c.EventsPollInterval = time.Minute })(s)
		withFx(fx.Decorate(func(o ports.Outbox) ports.Outbox { return sleepyOutbox{o} }))(s)
	}
}

// recorder is an in-process subscriber that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	got  []ports.Event
	fail func(ports.Event) error
}

func (r *recorder) subscriber(_ context.Context, e ports.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(e); err != nil {
			return err
		}
	}
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) events(subject string) []ports.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.Event
	for _, e := range r.got {
		if e.Subject.String() == subject {
			out = append(out, e)
		}
	}
	return out
}

// lifecycle drives every act of a user's life through c and returns the
// user's id, the secrets it saw, and the labels of the events the acts
// must record, in order.
func lifecycle(t *testing.T, c *client, gdb *gorm.DB) (uid string, secrets []string, want []string) {
	t.Helper()
	keep := func(s session) session { secrets = append(secrets, s.access, s.refresh); return s }
	mine := keep(c.signup("Relayed"))
	uid = c.me(mine.access).ID
	var hash string
	if err := gdb.Table("users").Select("password_hash").Where("id = ?", uid).Scan(&hash).Error; err != nil || hash == "" {
		t.Fatalf("stored hash: %q, %v", hash, err)
	}
	secrets = append(secrets, hash, goodPassword, newPassword)
	laptop := keep(c.login("relayed", goodPassword))
	c.do(http.MethodPatch, base, map[string]any{"full_name": "Re Layed"}, bearer(mine.access)).wantStatus(t, http.StatusOK)
	c.do(http.MethodPatch, base, map[string]any{"password": newPassword, "current_password": goodPassword}, bearer(mine.access)).wantStatus(t, http.StatusOK)
	c.wantAccessRefused(laptop.access) // the password change ended it
	mine = keep(c.refresh(mine.refresh).wantTokens(t, http.StatusOK))
	phone := keep(c.login("relayed", newPassword))
	c.do(http.MethodPost, base+"/logout", nil, withCookie(phone.refresh)).wantStatus(t, http.StatusNoContent)
	tablet := keep(c.login("relayed", newPassword))
	c.do(http.MethodDelete, mySessions+"/"+sid(t, tablet), nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)
	keep(c.login("relayed", newPassword))
	c.do(http.MethodDelete, base, nil, bearer(mine.access)).wantStatus(t, http.StatusNoContent)
	want = []string{
		"user.created", "session.started", // signup
		"session.started",                                            // login
		"user.updated",                                               // patch
		"user.password_changed", "session.revoked(password_changed)", // password change ends the laptop
		"session.started", "session.revoked(logout)", // phone
		"session.started", "session.revoked(revoked_by_user)", // tablet
		"session.started",                                                                      // the last login
		"session.revoked(account_deleted)", "session.revoked(account_deleted)", "user.deleted", // delete
	}
	return uid, secrets, want
}

func streamLabel(t testing.TB, e streamEvent) string {
	var d map[string]any
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("%s data %s: %v", e.Type, e.Data, err)
	}
	if reason, ok := d["reason"]; ok {
		return fmt.Sprintf("%s(%v)", e.Type, reason)
	}
	return e.Type
}

// sameOrderAsOutbox checks that got (stream events of one subject) are the
// outbox's events of that subject, each once, in the outbox's order, with
// the contract's CloudEvents envelope.
func checkAgainstOutbox(t *testing.T, got []streamEvent, outboxEvents []outboxEvent) {
	t.Helper()
	if len(got) != len(outboxEvents) {
		t.Fatalf("%d events in the stream, want the outbox's %d", len(got), len(outboxEvents))
	}
	envelope := []string{"data", "datacontenttype", "id", "source", "specversion", "subject", "time", "type"}
	for i, e := range got {
		o := outboxEvents[i]
		if e.ID != o.ID || e.MsgID != o.ID || e.Type != o.Type || e.Subject != o.Subject {
			t.Errorf("stream event %d: id %s (Nats-Msg-Id %s) %s of %s, want %s %s of %s", i, e.ID, e.MsgID, e.Type, e.Subject, o.ID, o.Type, o.Subject)
		}
		if e.NATSSubject != "usersvc.events."+o.Type || e.SpecVersion != "1.0" || e.Source != "usersvc" || e.DataContentType != "application/json" {
			t.Errorf("stream event %d envelope: subject %s, specversion %s, source %s, datacontenttype %s", i, e.NATSSubject, e.SpecVersion, e.Source, e.DataContentType)
		}
		if !slices.Equal(e.fields, envelope) {
			t.Errorf("stream event %d has fields %v, want exactly %v", i, e.fields, envelope)
		}
		if at, err := time.Parse(time.RFC3339, e.Time); err != nil || !at.Equal(o.Time) || !strings.HasSuffix(e.Time, "Z") {
			t.Errorf("stream event %d time %q, want %v in RFC 3339 UTC (%v)", i, e.Time, o.Time, err)
		}
		var a, b any
		if json.Unmarshal(e.Data, &a) != nil || json.Unmarshal([]byte(o.Data), &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("stream event %d data %s, want the outbox's %s", i, e.Data, o.Data)
		}
	}
}

func TestEveryActOfALifecycleReachesTheStreamInOrder(t *testing.T) {
	url := natsURL(t)
	onEachDatabase(t, func(t *testing.T, db option) {
		str := openStream(t, url)
		var gdb *gorm.DB
		rec := &recorder{}
		c := newApp(t, db, withGrace(0), withNATS(url), withSubscriber(rec.subscriber), withFx(fx.Populate(&gdb)))
		uid, secrets, want := lifecycle(t, c, gdb)
		waitDelivered(t, gdb, 10*time.Second) // EVENTS_POLL_INTERVAL is 1m: the commits woke the relay
		got := str.events(map[string]bool{uid: true})
		var labels []string
		for _, e := range got {
			labels = append(labels, streamLabel(t, e))
			for _, s := range secrets {
				if strings.Contains(e.raw, s) {
					t.Errorf("stream event %s carries a secret (%.12s…)", e.Type, s)
				}
			}
			if strings.Contains(e.raw, "$argon2id$") || jwtPattern.MatchString(e.raw) || strings.Contains(strings.ToLower(e.raw), "password\":") {
				t.Errorf("stream event %s carries a hash, token or password: %s", e.Type, e.raw)
			}
		}
		if !slices.Equal(labels, want) {
			t.Fatalf("the user's events in the stream:\n got %q\nwant %q", labels, want)
		}
		_, recorded := eventsOf(t, gdb, uid)
		checkAgainstOutbox(t, got, recorded)
		sub := rec.events(uid)
		if len(sub) != len(recorded) {
			t.Fatalf("the in-process subscriber got %d events, want %d", len(sub), len(recorded))
		}
		for i, e := range sub {
			if e.ID.String() != recorded[i].ID {
				t.Errorf("subscriber event %d is %s %s, want %s %s", i, e.Type, e.ID, recorded[i].Type, recorded[i].ID)
			}
		}
	})
}

func TestAFailingSubscriberIsRetriedInOrder(t *testing.T) {
	var gdb *gorm.DB
	failed := 0
	rec := &recorder{}
	rec.fail = func(e ports.Event) error {
		if e.Type == "user.updated" && failed < 2 {
			failed++
			return errors.New("subscriber: try again later")
		}
		return nil
	}
	c := newApp(t, onDatabase(sqliteDB), withSubscriber(rec.subscriber), withFx(fx.Populate(&gdb)),
		withConfig(func(c *bootstrap.Config) {
			c.EventsPollInterval = 20 * time.Millisecond
			c.EventsRetryMaxBackoff = 50 * time.Millisecond
		}))
	mine := c.signup("Patient")
	uid := c.me(mine.access).ID
	c.do(http.MethodPatch, base, map[string]any{"full_name": "P One"}, bearer(mine.access)).wantStatus(t, http.StatusOK)
	c.login("patient", goodPassword)
	waitDelivered(t, gdb, 10*time.Second)
	var types []string
	for _, e := range rec.events(uid) {
		types = append(types, e.Type)
	}
	if want := []string{"user.created", "session.started", "user.updated", "session.started"}; !slices.Equal(types, want) || failed != 2 {
		t.Fatalf("subscriber got %v after %d failures, want %v after 2", types, failed, want)
	}
	var attempts int
	if err := gdb.Table("outbox").Select("attempts").Where("type = ?", "user.updated").Scan(&attempts).Error; err != nil || attempts != 2 {
		t.Fatalf("user.updated attempts %d (%v), want 2", attempts, err)
	}
	metrics := c.do(http.MethodGet, "/metrics", nil)
	if !strings.Contains(string(metrics.Body), `events_publish_failures_total{target="subscriber"} 2`) ||
		!strings.Contains(string(metrics.Body), "events_outbox_backlog 0") {
		t.Errorf("metrics do not show 2 subscriber failures and an empty backlog:\n%s", grepLines(string(metrics.Body), "events_"))
	}
	for _, line := range c.app.logLines(t) {
		if line["msg"] == "event delivery failed; it will be retried" {
			if line["event_type"] != "user.updated" || line["event_id"] == nil {
				t.Errorf("failure log %v should name the event by id and type", line)
			}
			for k, v := range line {
				if strings.Contains(fmt.Sprint(v), "P One") {
					t.Errorf("a log line carries event data in %s: %v", k, line)
				}
			}
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// natsServer is a private nats-server with JetStream that a test starts and
// stops; its storage directory outlives a restart.
type natsServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

const natsServerBinary = "/usr/sbin/nats-server"

func newNATSServer(t testing.TB) *natsServer {
	t.Helper()
	natsURL(t) // the shared server's presence says this machine runs NATS
	if _, err := os.Stat(natsServerBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: %v", natsServerBinary, err)
		}
		t.Skipf("skipping, no %s", natsServerBinary)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &natsServer{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *natsServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(natsServerBinary, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	eventually(s.t, 10*time.Second, "nats-server answering", func() bool {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func (s *natsServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// checkEachOnceInOrder checks that the stream holds every outbox event
// exactly once and, per user, in the outbox's order.
func checkEachOnceInOrder(t *testing.T, got []streamEvent, recorded []outboxEvent) {
	t.Helper()
	count := map[string]int{}
	for _, e := range got {
		count[e.ID]++
	}
	for _, o := range recorded {
		if count[o.ID] != 1 {
			t.Errorf("event %s (%s) is %d times in the stream, want once", o.ID, o.Type, count[o.ID])
		}
	}
	if len(got) != len(recorded) {
		t.Errorf("%d messages in the stream, want the outbox's %d", len(got), len(recorded))
	}
	bySubject := func(ids []string, subjects []string) map[string][]string {
		m := map[string][]string{}
		for i, id := range ids {
			m[subjects[i]] = append(m[subjects[i]], id)
		}
		return m
	}
	var sIDs, sSubj, oIDs, oSubj []string
	for _, e := range got {
		sIDs, sSubj = append(sIDs, e.ID), append(sSubj, e.Subject)
	}
	for _, o := range recorded {
		oIDs, oSubj = append(oIDs, o.ID), append(oSubj, o.Subject)
	}
	want := bySubject(oIDs, oSubj)
	for subject, ids := range bySubject(sIDs, sSubj) {
		if !slices.Equal(ids, want[subject]) {
			t.Errorf("user %s: stream order %v, want the outbox's %v", subject, ids, want[subject])
		}
	}
}

// letters spells n in letters (a full name allows no digits), different for
// every n.
func letters(n int) string {
	s := ""
	for {
		s = string(rune('a'+n%26)) + s
		n /= 26
		if n == 0 {
			return "X" + s
		}
	}
}

func subjectsOf(recorded []outboxEvent) map[string]bool {
	m := map[string]bool{}
	for _, o := range recorded {
		m[o.Subject] = true
	}
	return m
}

// outageSeconds is how long TestABrokerOutageLosesNothing keeps NATS down;
// USERSVC_OUTAGE_SECONDS changes it (for the figures in BENCHMARKS.md).
func outageSeconds(t *testing.T) time.Duration {
	if v := os.Getenv("USERSVC_OUTAGE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(n) * time.Second
	}
	return 2 * time.Second
}

func TestABrokerOutageLosesNothing(t *testing.T) {
	srv := newNATSServer(t)
	srv.start()
	var gdb *gorm.DB
	c := newApp(t, withNATS(srv.url()), withFx(fx.Populate(&gdb)))
	var sessions []session
	for i := range 3 {
		sessions = append(sessions, c.signup(fmt.Sprintf("Outage%d", i)))
	}
	waitDelivered(t, gdb, 10*time.Second)
	str := openStream(t, srv.url())
	str.from = 1 // the private stream holds only this test's events

	// Changes keep coming before, during and after the outage, so NATS
	// goes away while the relay is publishing.
	var slowest atomic.Int64
	acts := atomic.Int64{}
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		ct := c.with(t)
		for i := 0; ; i++ {
			select {
			case <-stopLoad:
				return
			default:
			}
			start := time.Now()
			ct.do(http.MethodPatch, base, map[string]any{"full_name": "Name " + letters(i)}, bearer(sessions[i%len(sessions)].access)).wantStatus(t, http.StatusOK)
			if took := time.Since(start); int64(took) > slowest.Load() {
				slowest.Store(int64(took))
			}
			acts.Add(1)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	srv.stop()
	outage := outageSeconds(t)
	time.Sleep(outage)
	// A publish in flight when NATS went away fails only when its
	// acknowledgement times out, which under load can come after the
	// outage's nominal length: wait for the failure to be counted.
	deadline := time.Now().Add(15 * time.Second)
	m := c.scrape()
	for m.value("events_publish_failures_total", "target", "broker") < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		m = c.scrape()
	}
	queued := backlog(t, gdb)
	actsDuring := acts.Load()
	if b := m.value("events_outbox_backlog"); b < float64(queued)/2 {
		t.Errorf("events_outbox_backlog %v during the outage, with %d queued", b, queued)
	}
	if age := m.value("events_outbox_oldest_undelivered_age_seconds"); age < outage.Seconds()/2 {
		t.Errorf("events_outbox_oldest_undelivered_age_seconds %v after an outage of %s", age, outage)
	}
	if f := m.value("events_publish_failures_total", "target", "broker"); f < 1 {
		t.Errorf("events_publish_failures_total{target=broker} %v during the outage", f)
	}
	srv.start()
	back := time.Now()
	time.Sleep(300 * time.Millisecond)
	close(stopLoad)
	<-loadDone
	if queued == 0 {
		t.Fatalf("nothing queued after %d changes while NATS was down", actsDuring)
	}
	if took := time.Duration(slowest.Load()); took > time.Second {
		t.Errorf("the slowest request took %s around the outage: the relay must not hold requests", took)
	}
	waitDelivered(t, gdb, 60*time.Second)
	if m := c.scrape(); m.value("events_outbox_backlog") != 0 || m.value("events_outbox_oldest_undelivered_age_seconds") != 0 {
		t.Errorf("after the drain: backlog %v, oldest age %v; want 0 and 0", m.value("events_outbox_backlog"), m.value("events_outbox_oldest_undelivered_age_seconds"))
	}
	t.Logf("outage of %s under load: %d changes answered (slowest %s), %d events queued when NATS returned, all delivered %s later",
		outage, acts.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), queued, time.Since(back).Round(time.Millisecond))

	recorded := outbox(t, gdb)
	checkEachOnceInOrder(t, str.events(subjectsOf(recorded)), recorded)
}

// countingPublisher counts the publishes of each event id, across every
// instance it wraps.
type countingPublisher struct {
	ports.Publisher
	mu    *sync.Mutex
	count map[string]int
}

func (p countingPublisher) Publish(ctx context.Context, e ports.Event) error {
	err := p.Publisher.Publish(ctx, e)
	if err == nil {
		p.mu.Lock()
		p.count[e.ID.String()]++
		p.mu.Unlock()
	}
	return err
}

func TestTwoInstancesRelayEachEventOnceInOrder(t *testing.T) {
	url := natsURL(t)
	str := openStream(t, url)
	var mu sync.Mutex
	published := map[string]int{}
	counting := withFx(fx.Decorate(func(p ports.Publisher) ports.Publisher {
		return countingPublisher{Publisher: p, mu: &mu, count: published}
	}))
	fast := withConfig(func(c *bootstrap.Config) {
		c.EventsNATSURL = url
		c.EventsPollInterval = 20 * time.Millisecond
		c.EventsBatchSize = 5 // small batches: the instances interleave
	})
	var gdb *gorm.DB
	a := newApp(t, fast, counting, withFx(fx.Populate(&gdb)))
	b := newApp(t, sharingDatabaseOf(a), fast, counting)
	instances := []*client{a, b}

	const users, changes = 6, 12
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ct := a.with(t)
			s := ct.signup(fmt.Sprintf("Twin%d", u))
			for i := range changes {
				// Each change through either instance; each is answered
				// before the next, so each comes after the one before.
				c := instances[(u+i)%2].with(t)
				c.do(http.MethodPatch, base, map[string]any{"full_name": "Twin " + letters(u) + " " + letters(i)}, bearer(s.access)).wantStatus(t, http.StatusOK)
			}
		}()
	}
	wg.Wait()
	waitDelivered(t, gdb, 30*time.Second)
	recorded := outbox(t, gdb)
	if len(recorded) != users*(2+changes) {
		t.Fatalf("%d events recorded, want %d", len(recorded), users*(2+changes))
	}
	mu.Lock()
	for _, o := range recorded {
		if published[o.ID] != 1 {
			t.Errorf("event %s was published %d times, want once", o.ID, published[o.ID])
		}
	}
	mu.Unlock()
	checkEachOnceInOrder(t, str.events(subjectsOf(recorded)), recorded)
	total := 0
	for i, c := range instances {
		n := deliveredCount(t, c)
		if n == 0 {
			t.Errorf("instance %d delivered nothing: the test did not make the instances relay together", i)
		}
		total += n
	}
	if total != len(recorded) {
		t.Errorf("the instances delivered %d events together, want %d", total, len(recorded))
	}
}

// deliveredCount reads events_delivered_total from c's /metrics.
func deliveredCount(t *testing.T, c *client) int {
	t.Helper()
	body := string(c.do(http.MethodGet, "/metrics", nil).Body)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "events_delivered_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(f)
		}
	}
	t.Fatalf("no events_delivered_total in /metrics")
	return 0
}

// TestRelayThroughput drains a backlog recorded while the broker is down
// (2,000 events, or USERSVC_RELAY_BENCH_EVENTS) to NATS on PostgreSQL,
// checks every event reached the stream once, and logs how fast: the
// figures in BENCHMARKS.md come from 20,000 events.
func TestRelayThroughput(t *testing.T) {
	// A backlog large enough to span many batches and subjects; the
	// figures in BENCHMARKS.md come from USERSVC_RELAY_BENCH_EVENTS=20000.
	n := 2000
	if v := os.Getenv("USERSVC_RELAY_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	batch := 100
	if v := os.Getenv("USERSVC_RELAY_BENCH_BATCH"); v != "" {
		batch, _ = strconv.Atoi(v)
	}
	srv := newNATSServer(t)
	var gdb *gorm.DB
	var events ports.Events
	var tx ports.Transactor
	newApp(t, withNATS(srv.url()), withConfig(func(c *bootstrap.Config) { c.EventsBatchSize = batch }),
		withFx(fx.Populate(&gdb, &events, &tx)))
	subjects := make([]string, 200)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
	}
	for i := 0; i < n; i += 100 {
		var chunk []ports.Event
		for j := i; j < min(i+100, n); j++ {
			chunk = append(chunk, ports.Event{
				ID: uuid.Must(uuid.NewV7()), Type: "user.updated", Subject: uuid.MustParse(subjects[j%len(subjects)]), Time: time.Now().UTC(),
				Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"username":"Bench","full_name":null,"updated_at":"2026-12-02T08:00:00Z","changed":["full_name"]}`, subjects[j%len(subjects)])),
			})
		}
		if err := tx.Atomically(t.Context(), func(ctx context.Context) error { return events.Record(ctx, chunk...) }); err != nil {
			t.Fatal(err)
		}
	}
	if q := backlog(t, gdb); q != n {
		t.Fatalf("backlog %d before the broker started, want %d", q, n)
	}
	srv.start()
	start := time.Now()
	eventually(t, 5*time.Minute, "the drain", func() bool { return backlog(t, gdb) == 0 })
	took := time.Since(start)
	t.Logf("drained %d events to NATS in %s: %.0f events/s (batch %d, PostgreSQL)", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), batch)
	str := openStream(t, srv.url())
	str.from = 1
	if got := len(str.events(nil)); got != n {
		t.Fatalf("%d messages in the stream, want %d", got, n)
	}
}

// forgetfulOutbox loses the relay's first marking, as if the instance
// crashed after the broker acknowledged a batch and before it was marked.
type forgetfulOutbox struct {
	ports.Outbox
	lost atomic.Int32
}

func (o *forgetfulOutbox) MarkDelivered(ctx context.Context, at time.Time, seqs ...int64) error {
	if len(seqs) > 0 && o.lost.CompareAndSwap(0, 1) {
		return fmt.Errorf("%w: test: the instance died before marking", ports.ErrUnavailable)
	}
	return o.Outbox.MarkDelivered(ctx, at, seqs...)
}

func TestAPublishRepeatedAfterACrashReachesTheStreamOnce(t *testing.T) {
	url := natsURL(t)
	onEachDatabase(t, func(t *testing.T, db option) {
		str := openStream(t, url)
		forgetful := &forgetfulOutbox{}
		var mu sync.Mutex
		published := map[string]int{}
		var gdb *gorm.DB
		c := newApp(t, db, withNATS(url), withFx(fx.Populate(&gdb),
			fx.Decorate(func(o ports.Outbox) ports.Outbox { forgetful.Outbox = o; return forgetful }),
			fx.Decorate(func(p ports.Publisher) ports.Publisher {
				return countingPublisher{Publisher: p, mu: &mu, count: published}
			})),
			withConfig(func(c *bootstrap.Config) { c.EventsPollInterval = 20 * time.Millisecond }))
		s := c.signup("Crashed")
		uid := c.me(s.access).ID
		waitDelivered(t, gdb, 10*time.Second)
		if forgetful.lost.Load() != 1 {
			t.Fatal("the first marking was not lost: the test tests nothing")
		}
		_, recorded := eventsOf(t, gdb, uid)
		mu.Lock()
		repeated := 0
		for _, o := range recorded {
			if published[o.ID] > 1 {
				repeated++
			}
		}
		mu.Unlock()
		if repeated == 0 {
			t.Fatal("no event was published again after the lost marking")
		}
		checkAgainstOutbox(t, str.events(map[string]bool{uid: true}), recorded)
	})
}
