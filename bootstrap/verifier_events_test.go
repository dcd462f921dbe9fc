package bootstrap_test

// The verifier's revocation following: CloudEvents on NATS JetStream (the
// stream and subjects of the event contract) refuse sessions and users at
// once. The events are published by the test, as the service's relay would.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"example.com/usersvc/adapters/tokenverify"
	"example.com/usersvc/bootstrap"
)

// verifierNATSURL is the NATS server with JetStream the tests use.
func verifierNATSURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// natsConn connects to NATS. Without NATS the test is skipped, unless
// CI=true, where it fails.
func natsConn(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(verifierNATSURL(), nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("NATS at %s unreachable (set CI=true to fail instead): %v", verifierNATSURL(), err)
		}
		t.Fatalf("NATS at %s: %v", verifierNATSURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// testStream is a stream of the test's own, shaped like the service's
// (subjects <prefix><type>), so that the events the test makes up reach no
// other test's consumer of USERSVC_EVENTS.
type testStream struct {
	js     jetstream.JetStream
	name   string
	prefix string
}

// eventStream creates a testStream and deletes it when t ends.
func eventStream(t *testing.T) *testStream {
	t.Helper()
	js := natsConn(t)
	id := rand.Text()
	s := &testStream{js: js, name: "TOKENVERIFY_TEST_" + id, prefix: "tokenverifytest." + id + ".usersvc.events."}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: s.name, Subjects: []string{s.prefix + ">"}, MaxAge: time.Hour}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, s.name)
	})
	return s
}

// revocations follows the stream.
func (s *testStream) revocations() *tokenverify.Revocations {
	return &tokenverify.Revocations{NATSURL: verifierNATSURL(), Stream: s.name, SubjectPrefix: s.prefix}
}

// publish publishes a CloudEvent of typ about user with data, as the
// service's relay does (Nats-Msg-Id = the event id).
func (s *testStream) publish(t *testing.T, typ, user string, data map[string]any) {
	t.Helper()
	id := rand.Text()
	body, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "usersvc", "type": typ, "subject": user,
		"time": time.Now().UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json", "data": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.js.Publish(ctx, s.prefix+typ, body, jetstream.WithMsgID(id)); err != nil {
		t.Fatalf("publish %s: %v", typ, err)
	}
}

// refusedWithin polls Verify until it refuses token as revoked and fails
// unless that happens within limit; it returns how long it took.
func refusedWithin(t *testing.T, v *tokenverify.Verifier, token string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := verify(v, token)
		if errors.Is(err, tokenverify.ErrRevoked) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("Verify: %v, want ErrRevoked", err)
		}
		if time.Since(start) > limit {
			t.Fatalf("the token still verifies %s after its revocation was published", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVerifierRefusesRevokedSessionsAndUsersFromEvents(t *testing.T) {
	stream := eventStream(t)
	svc := newApp(t, onDatabase(sqliteDB))
	alice := svc.signup("Revoked1")
	aliceOther := svc.login("Revoked1", goodPassword)
	bob := svc.signup("Revoked2")
	carol := svc.signup("Revoked3")
	pa, pao, pb, pc := svc.principalOf(alice), svc.principalOf(aliceOther), svc.principalOf(bob), svc.principalOf(carol)
	follow := func(c *tokenverify.Config) { c.Revocations = stream.revocations() }
	v := newVerifier(t, svc.app.url+jwksPath, follow)
	for _, c := range []struct {
		token string
		p     tokenverify.Principal
	}{{alice.access, pa}, {aliceOther.access, pao}, {bob.access, pb}, {carol.access, pc}} {
		wantPrincipal(t, v, c.token, c.p)
	}

	// One of alice's sessions ends: that session only is refused.
	stream.publish(t, "session.revoked", pa.UserID, map[string]any{
		"id": pa.SessionID, "user_id": pa.UserID, "at": time.Now().UTC(), "reason": "logout",
	})
	took := refusedWithin(t, v, alice.access, time.Second)
	t.Logf("session.revoked refused after %s", took)
	wantPrincipal(t, v, aliceOther.access, pao)

	// bob is disabled, carol deleted: every token of theirs issued before is
	// refused.
	stream.publish(t, "user.disabled", pb.UserID, map[string]any{"id": pb.UserID, "at": time.Now().UTC()})
	stream.publish(t, "user.deleted", pc.UserID, map[string]any{"id": pc.UserID, "at": time.Now().UTC()})
	refusedWithin(t, v, bob.access, time.Second)
	refusedWithin(t, v, carol.access, time.Second)

	// Events that revoke nothing, or cannot be read, change nothing.
	stream.publish(t, "user.updated", pao.UserID, map[string]any{"id": pao.UserID, "changed": []string{"full_name"}})
	stream.publish(t, "session.revoked", pao.UserID, map[string]any{"id": "not-a-uuid", "at": time.Now().UTC()})
	wantPrincipal(t, v, aliceOther.access, pao)

	// A verifier started after the events (a restart of the other service)
	// reads the recent ones before New returns: refused from the start.
	later := newVerifier(t, svc.app.url+jwksPath, follow)
	for _, tok := range []string{alice.access, bob.access, carol.access} {
		if _, err := verify(later, tok); !errors.Is(err, tokenverify.ErrRevoked) {
			t.Errorf("a verifier started after the revocation: %v, want ErrRevoked", err)
		}
	}
	wantPrincipal(t, later, aliceOther.access, pao)

	// Without Revocations the same tokens still verify until they expire:
	// following events is what refuses them.
	plain := newVerifier(t, svc.app.url+jwksPath)
	wantPrincipal(t, plain, alice.access, pa)
}

func TestVerifierRevocationsNeedTheStream(t *testing.T) {
	natsConn(t) // NATS is there
	svc := newApp(t, onDatabase(sqliteDB))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tokenverify.New(ctx, tokenverify.Config{
		JWKSURL:     svc.app.url + jwksPath,
		Revocations: &tokenverify.Revocations{NATSURL: verifierNATSURL(), Stream: "NO_SUCH_STREAM_" + rand.Text()},
	})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("New with a missing stream: %v, want ErrStreamNotFound", err)
	}
}

// withEventsNATS sets the service's EVENTS_NATS_URL: its relay publishes
// every recorded event to the USERSVC_EVENTS stream.
func withEventsNATS(url string) option {
	return withConfig(func(c *bootstrap.Config) { c.EventsNATSURL = url })
}

func TestVerifierRefusesALogoutWithinASecond(t *testing.T) {
	natsConn(t) // the service creates its stream when it starts
	svc := newApp(t, onDatabase(sqliteDB), withEventsNATS(verifierNATSURL()))
	s := svc.signup("LoggedOut1")
	keep := svc.login("LoggedOut1", goodPassword)
	p, pk := svc.principalOf(s), svc.principalOf(keep)
	v := newVerifier(t, svc.app.url+jwksPath, func(c *tokenverify.Config) {
		c.Revocations = &tokenverify.Revocations{NATSURL: verifierNATSURL()}
	})
	wantPrincipal(t, v, s.access, p)

	svc.do(http.MethodPost, base+"/logout", nil, withCookie(s.refresh)).wantStatus(t, http.StatusNoContent)
	took := refusedWithin(t, v, s.access, time.Second)
	t.Logf("the other service refused the logged-out session %s after the logout answered", took)
	wantPrincipal(t, v, keep.access, pk) // the user's other session goes on
}

func TestVerifierRefusesADisabledAccountSoonAfterTheAdminCommand(t *testing.T) {
	natsConn(t)
	// The admin command runs as another process would, on the same database:
	// the service's relay finds its events on its next poll.
	svc := newApp(t, withEventsNATS(verifierNATSURL()), withConfig(func(c *bootstrap.Config) { c.EventsPollInterval = 100 * time.Millisecond }))
	s := svc.signup("Disabled1")
	other := svc.signup("Disabled2")
	p, po := svc.principalOf(s), svc.principalOf(other)
	v := newVerifier(t, svc.app.url+jwksPath, func(c *tokenverify.Config) {
		c.Revocations = &tokenverify.Revocations{NATSURL: verifierNATSURL()}
	})
	wantPrincipal(t, v, s.access, p)

	admin(t, svc, "", "users", "disable", "Disabled1", "--reason", "verifier test").want(t, 0)
	took := refusedWithin(t, v, s.access, 2*time.Second)
	t.Logf("the other service refused the disabled account %s after the admin command returned", took)
	wantPrincipal(t, v, other.access, po)
}
