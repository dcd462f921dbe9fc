package sqltest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// echoServer accepts connections on 127.0.0.1 and echoes every line back;
// it returns a postgres:// URL naming it, as the proxy expects.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return "postgres://u:secret@" + ln.Addr().String() + "/db?sslmode=disable"
}

// dial opens a connection through p.
func dial(t *testing.T, p *FaultProxy) net.Conn {
	t.Helper()
	u, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes line and reads it back within wait.
func roundTrip(c net.Conn, line string, wait time.Duration) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	return readLine(c, wait)
}

func readLine(c net.Conn, wait time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var b strings.Builder
	one := make([]byte, 1)
	for {
		if _, err := c.Read(one); err != nil {
			return b.String(), err
		}
		if one[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(one[0])
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestFaultProxyForwardsAndRewritesTheURL(t *testing.T) {
	t.Parallel()
	up := echoServer(t)
	p := NewFaultProxy(t, up)
	u, _ := url.Parse(p.URL())
	want, _ := url.Parse(up)
	if u.Host == want.Host || u.User.String() != want.User.String() || u.Path != want.Path || u.RawQuery != want.RawQuery {
		t.Fatalf("URL() = %q, want %q with only the host changed", p.URL(), up)
	}
	c := dial(t, p)
	if got, err := roundTrip(c, "hello", 5*time.Second); err != nil || got != "hello" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	if n := p.Connections(); n != 1 {
		t.Errorf("Connections() = %d, want 1", n)
	}
}

func TestFaultProxyLatencyDelaysEachDirection(t *testing.T) {
	t.Parallel()
	p := NewFaultProxy(t, echoServer(t))
	c := dial(t, p)
	p.Latency(150 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, "slow", 5*time.Second); err != nil || got != "slow" {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("round trip took %s, want at least two delays of 150ms", d)
	}
	p.Latency(0)
	if got, err := roundTrip(c, "fast", 5*time.Second); err != nil || got != "fast" {
		t.Fatalf("round trip after Latency(0) = %q, %v", got, err)
	}
}

func TestFaultProxyStallKeepsConnectionsAndData(t *testing.T) {
	t.Parallel()
	p := NewFaultProxy(t, echoServer(t))
	old := dial(t, p)
	if _, err := roundTrip(old, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	if _, err := roundTrip(old, "during", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("read during a stall = %v, want a timeout (nothing forwarded, nothing closed)", err)
	}
	fresh := dial(t, p) // a connection opened during the stall is accepted and stalled too
	if _, err := roundTrip(fresh, "new", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("read on a new connection during a stall = %v, want a timeout", err)
	}
	p.Resume()
	if got, err := readLine(old, 5*time.Second); err != nil || got != "during" {
		t.Fatalf("after Resume, old connection read %q, %v; want the stalled line", got, err)
	}
	if got, err := readLine(fresh, 5*time.Second); err != nil || got != "new" {
		t.Fatalf("after Resume, new connection read %q, %v; want the stalled line", got, err)
	}
}

func TestFaultProxyCutAndDown(t *testing.T) {
	t.Parallel()
	p := NewFaultProxy(t, echoServer(t))
	c := dial(t, p)
	if _, err := roundTrip(c, "x", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if _, err := readLine(c, 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("read after Cut = %v, want the connection closed", err)
	}
	if got, err := roundTrip(dial(t, p), "again", 5*time.Second); err != nil || got != "again" {
		t.Fatalf("a new connection after Cut = %q, %v; want it forwarded", got, err)
	}

	p.Down()
	if _, err := roundTrip(dial(t, p), "refused", 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("a connection while Down = %v, want it closed", err)
	}
	p.Up()
	if got, err := roundTrip(dial(t, p), "back", 5*time.Second); err != nil || got != "back" {
		t.Fatalf("a connection after Up = %q, %v", got, err)
	}
}

func TestFaultProxyHoldsFromThePatternUntilRelease(t *testing.T) {
	t.Parallel()
	p := NewFaultProxy(t, echoServer(t))
	held := p.HoldWhen([]byte("COMMIT"))
	c := dial(t, p)
	if got, err := roundTrip(c, "begin", 5*time.Second); err != nil || got != "begin" {
		t.Fatalf("before the pattern: %q, %v", got, err)
	}
	if _, err := roundTrip(c, "xCOMMITx", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("the chunk with the pattern came back (%v), want it held", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("HoldWhen's channel is not closed after the pattern passed")
	}
	other := dial(t, p) // the hold is one connection's, and used up
	if got, err := roundTrip(other, "COMMIT", 5*time.Second); err != nil || got != "COMMIT" {
		t.Fatalf("another connection was held too: %q, %v", got, err)
	}
	if _, err := io.WriteString(c, "after\n"); err != nil {
		t.Fatal(err)
	}
	done := p.Release()
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"xCOMMITx", "after"} {
		got, err := r.ReadString('\n')
		if err != nil || strings.TrimSuffix(got, "\n") != want {
			t.Fatalf("after Release read %q, %v; want %q (order kept)", got, err, want)
		}
	}
	select {
	case <-done:
		t.Fatal("Release's channel closed while the held connection is still open")
	case <-time.After(50 * time.Millisecond):
	}
	_ = c.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Release's channel did not close after the held connection ended")
	}
}
