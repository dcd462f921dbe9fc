package natsevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"example.com/usersvc/adapters/natsevents"
	"example.com/usersvc/ports"
)

const natsServerBinary = "/usr/sbin/nats-server"

// server is a private nats-server with JetStream on a free port and a
// fresh storage directory, so each test sees a server without the stream.
type server struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func newServer(t *testing.T) *server {
	t.Helper()
	if _, err := os.Stat(natsServerBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true makes NATS mandatory: %v", natsServerBinary, err)
		}
		t.Skipf("skipping, no %s (set CI=true to fail instead)", natsServerBinary)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &server{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.stop)
	return s
}

func (s *server) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(natsServerBinary, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *server) js() jetstream.JetStream {
	s.t.Helper()
	nc, err := nats.Connect(s.url())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return js
}

var at = time.Date(2026, 12, 2, 8, 0, 0, 123456000, time.UTC)

func event(typ string) ports.Event {
	return ports.Event{ID: uuid.Must(uuid.NewV7()), Type: typ, Subject: uuid.New(), Time: at, Data: json.RawMessage(`{"id":"x","at":"2026-12-02T08:00:00.123456Z"}`)}
}

func TestEncodeIsTheContractsCloudEvent(t *testing.T) {
	e := event("user.deleted")
	e.ID = uuid.MustParse("0193a000-0000-7000-8000-000000000001")
	e.Subject = uuid.MustParse("0193a000-0000-7000-8000-0000000000aa")
	body, err := natsevents.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"0193a000-0000-7000-8000-000000000001","source":"usersvc","type":"user.deleted",` +
		`"subject":"0193a000-0000-7000-8000-0000000000aa","time":"2026-12-02T08:00:00.123456Z","datacontenttype":"application/json",` +
		`"data":{"id":"x","at":"2026-12-02T08:00:00.123456Z"}}`
	if string(body) != want {
		t.Fatalf("Encode:\n got %s\nwant %s", body, want)
	}
	e.Data = json.RawMessage(`{not json`)
	if _, err := natsevents.Encode(e); err == nil {
		t.Fatal("Encode accepted invalid data")
	}
}

func TestPublishCreatesTheStreamAndDropsDuplicates(t *testing.T) {
	srv := newServer(t)
	srv.start()
	p, err := natsevents.Connect(srv.url(), natsevents.Options{AckTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, second := event("user.created"), event("session.started")
	for _, e := range []ports.Event{first, first, second, first} { // a retry after a lost ack
		if err := p.Publish(t.Context(), e); err != nil {
			t.Fatalf("Publish %s: %v", e.Type, err)
		}
	}
	str, err := srv.js().Stream(t.Context(), natsevents.StreamName)
	if err != nil {
		t.Fatalf("the stream was not created: %v", err)
	}
	info := str.CachedInfo()
	if info.Config.Duplicates != natsevents.DuplicateWindow || len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != "usersvc.events.>" {
		t.Errorf("stream config %+v", info.Config)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d messages in the stream, want 2: the duplicates must be dropped", info.State.Msgs)
	}
	for seq, want := range map[uint64]ports.Event{1: first, 2: second} {
		m, err := str.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "usersvc.events."+want.Type || m.Header.Get("Nats-Msg-Id") != want.ID.String() {
			t.Errorf("message %d: subject %s, Nats-Msg-Id %s; want usersvc.events.%s, %s", seq, m.Subject, m.Header.Get("Nats-Msg-Id"), want.Type, want.ID)
		}
		body, _ := natsevents.Encode(want)
		if string(m.Data) != string(body) {
			t.Errorf("message %d body %s, want %s", seq, m.Data, body)
		}
	}
}

func TestAnExistingStreamIsLeftAsConfigured(t *testing.T) {
	srv := newServer(t)
	srv.start()
	cfg := natsevents.StreamConfig()
	cfg.Description = "the operator's own"
	cfg.Duplicates = 10 * time.Minute
	if _, err := srv.js().CreateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	p, err := natsevents.Connect(srv.url(), natsevents.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(t.Context(), event("user.created")); err != nil {
		t.Fatal(err)
	}
	str, err := srv.js().Stream(t.Context(), natsevents.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if c := str.CachedInfo().Config; c.Description != "the operator's own" || c.Duplicates != 10*time.Minute || str.CachedInfo().State.Msgs != 1 {
		t.Fatalf("stream %+v, %d messages; want the operator's configuration kept and the event stored", c, str.CachedInfo().State.Msgs)
	}
}

func TestPublishFailsAtOnceWhileTheServerIsDownAndRecovers(t *testing.T) {
	srv := newServer(t) // not started yet
	p, err := natsevents.Connect(srv.url(), natsevents.Options{})
	if err != nil {
		t.Fatalf("Connect must not need the server up: %v", err)
	}
	defer p.Close()
	start := time.Now()
	err = p.Publish(t.Context(), event("user.created"))
	if !errors.Is(err, ports.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Publish while down: %v after %s; want ErrUnavailable at once", err, time.Since(start))
	}
	srv.start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err = p.Publish(ctx, event("user.created"))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish did not recover after the server started: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.stop()
	if err := p.Publish(t.Context(), event("user.updated")); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Publish after the server stopped: %v, want ErrUnavailable", err)
	}
}
