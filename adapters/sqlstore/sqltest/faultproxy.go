package sqltest

import (
	"bytes"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// FaultProxy is a TCP proxy on 127.0.0.1 between a service and its
// PostgreSQL server that can be told to misbehave: add latency, stall (stop
// forwarding without closing anything), cut every connection, refuse new
// ones, or hold one connection's client-to-server stream from a given
// message on. Without faults it forwards bytes unchanged in both directions.
// Its methods are safe for concurrent use; faults apply to chunks read after
// the call.
type FaultProxy struct {
	ln       net.Listener
	upstream string
	url      string

	mu      sync.Mutex
	latency time.Duration
	stalled bool
	down    bool
	hold    []byte        // pattern armed by HoldWhen; nil when none
	holding chan struct{} // closed when the armed pattern was seen
	changed chan struct{} // closed and replaced whenever a fault changes
	links   map[*link]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	held           bool          // its client-to-server stream waits for Release
	cut            chan struct{} // closed when the proxy cuts it
	done           chan struct{} // closed when both directions have ended
	cutOnce        sync.Once
}

func (l *link) close() {
	l.cutOnce.Do(func() {
		close(l.cut)
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// NewFaultProxy starts a proxy to the server of databaseURL (a postgres://
// URL, port 5432 when it names none) and closes it, and every connection
// through it, when t ends. URL returns databaseURL rewritten to go through
// the proxy.
func NewFaultProxy(t testing.TB, databaseURL string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil || u.Hostname() == "" {
		t.Fatalf("sqltest: fault proxy: %q is not a URL with a host", databaseURL)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sqltest: fault proxy: %v", err)
	}
	p := &FaultProxy{
		ln:       ln,
		upstream: net.JoinHostPort(u.Hostname(), port),
		changed:  make(chan struct{}),
		links:    map[*link]struct{}{},
	}
	u.Host = ln.Addr().String()
	p.url = u.String()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the database URL that reaches the server through the proxy.
func (p *FaultProxy) URL() string { return p.url }

// Latency delays every chunk of bytes, in each direction, by d before it is
// forwarded; 0 removes the delay.
func (p *FaultProxy) Latency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
	p.broadcast()
}

// Stall stops forwarding in both directions on every connection, present
// and new, while keeping them all open: bytes wait, as in a network stall,
// and flow again, in order, after Resume.
func (p *FaultProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	p.broadcast()
}

// Resume ends a Stall.
func (p *FaultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	p.broadcast()
}

// Cut closes every connection through the proxy now, in both directions,
// dropping whatever bytes wait in the proxy. New connections are accepted.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	links := p.snapshot()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Down cuts every connection and, until Up, closes each new one as soon as
// it is accepted: the database is unreachable.
func (p *FaultProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Cut()
}

// Up ends Down: new connections are forwarded again.
func (p *FaultProxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// HoldWhen arms a hold: the first chunk from a client that contains pattern
// (for example the protocol bytes of a COMMIT, or a value only one statement
// sends) and everything after it on that connection's client-to-server
// stream wait until Release; its server-to-client stream and every other
// connection go on. The returned channel is closed when the hold starts. A
// pattern split across two chunks is not seen; one HoldWhen holds one
// connection.
func (p *FaultProxy) HoldWhen(pattern []byte) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = bytes.Clone(pattern)
	p.holding = make(chan struct{})
	return p.holding
}

// Release forwards what every held connection kept back, and whatever
// follows, and disarms a hold that has not started. The returned channel is
// closed when every connection held until now has ended in both directions,
// that is when the server has read, and answered or refused, all it was
// sent.
func (p *FaultProxy) Release() <-chan struct{} {
	p.mu.Lock()
	var held []*link
	for l := range p.links {
		if l.held {
			l.held = false
			held = append(held, l)
		}
	}
	p.hold = nil
	p.broadcast()
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, l := range held {
			<-l.done
		}
	}()
	return done
}

// Heal ends every fault (latency, stall, down, hold) at once.
func (p *FaultProxy) Heal() {
	p.Latency(0)
	p.Resume()
	p.Up()
	p.Release()
}

// Connections reports how many connections are open through the proxy.
func (p *FaultProxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// broadcast wakes every forwarder waiting on a fault. p.mu must be held.
func (p *FaultProxy) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// snapshot lists the open links. p.mu must be held.
func (p *FaultProxy) snapshot() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	return out
}

func (p *FaultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // the listener closed
		}
		p.mu.Lock()
		refuse := p.down || p.closed
		p.mu.Unlock()
		if refuse {
			_ = client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		l := &link{client: client, server: server, cut: make(chan struct{}), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close()
			continue
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve forwards both directions of l until both have ended.
func (p *FaultProxy) serve(l *link) {
	defer p.wg.Done()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.forward(l, l.client, l.server, true) }()
	go func() { defer both.Done(); p.forward(l, l.server, l.client, false) }()
	both.Wait()
	l.close()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	close(l.done)
}

// forward copies src to dst chunk by chunk, letting each chunk wait as the
// faults say. At src's end it half-closes dst, so the other side sees the
// end after every byte before it; on a cut or an error it closes the link.
func (p *FaultProxy) forward(l *link, src, dst net.Conn, toServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.await(l, buf[:n], toServer) {
				l.close()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.close()
				return
			}
		}
		if errors.Is(err, net.ErrClosed) || (err != nil && isCut(l)) {
			l.close()
			return
		}
		if err != nil {
			if tcp, ok := dst.(*net.TCPConn); ok {
				_ = tcp.CloseWrite()
			}
			return
		}
	}
}

func isCut(l *link) bool {
	select {
	case <-l.cut:
		return true
	default:
		return false
	}
}

// await applies the faults to one chunk: it arms a hold the chunk matches,
// sleeps the latency, then waits while the proxy is stalled or the link's
// client stream is held. It returns false when the link was cut meanwhile.
func (p *FaultProxy) await(l *link, chunk []byte, toServer bool) bool {
	p.mu.Lock()
	if toServer && p.hold != nil && bytes.Contains(chunk, p.hold) {
		l.held = true
		p.hold = nil
		close(p.holding)
	}
	delay := p.latency
	p.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-l.cut:
			timer.Stop()
			return false
		}
	}
	for {
		p.mu.Lock()
		wait := p.stalled || (toServer && l.held)
		changed := p.changed
		p.mu.Unlock()
		if !wait {
			return true
		}
		select {
		case <-changed:
		case <-l.cut:
			return false
		}
	}
}

// close stops accepting, cuts every connection and waits for the forwarders.
func (p *FaultProxy) close() {
	p.mu.Lock()
	p.closed = true
	links := p.snapshot()
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}
