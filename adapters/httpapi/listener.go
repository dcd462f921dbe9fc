package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Listener wraps the HTTP server's listener for what happens on a
// connection beneath the router:
//
//   - net/http answers a request it cannot parse itself, in plain text,
//     before any handler runs (a malformed request line or header, a missing
//     Host, a bad Content-Length, a header block over the server's hard
//     limit, a transfer coding other than chunked, an HTTP version other than
//     1.x). Listener turns each of those answers into a problem document with
//     the same status, except that the server's 501 and 505 become 400: they
//     are the client's mistake, and the service answers no 5xx for one.
//   - When the server closes a connection right after answering on it (a
//     body over the limit, a request refused before its body was read, a
//     "Connection: close" answer, one of its own error answers), the client
//     may still be sending. Closing a socket with unread data makes the
//     kernel send a reset, which can destroy the answer before the client
//     reads it. Listener instead half-closes the connection and reads and
//     discards what the client still sends, for up to lingerTime or
//     lingerBytes, so the client reads its answer and then a clean end of
//     stream. Idle keep-alive connections close at once.
//
// Lingering needs the server to report connection states to TrackConnState.
// Listener is safe for concurrent use, as net.Listener requires.
type Listener struct{ net.Listener }

// NewListener wraps ln; the HTTP server serves on the result.
func NewListener(ln net.Listener) *Listener { return &Listener{ln} }

// Accept waits for the next connection and wraps it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingeringConn{Conn: c}, nil
}

// TrackConnState is the HTTP server's ConnState hook for the connections of
// a Listener. Without it no connection lingers: only one whose request is
// being served (not an idle keep-alive connection, which closes at once) and
// has been answered does.
func TrackConnState(c net.Conn, state http.ConnState) {
	lc, ok := c.(*lingeringConn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive: // a request arrived
		lc.answered.Store(false)
		lc.active.Store(true)
	case http.StateIdle:
		lc.active.Store(false)
	}
}

// How long, and how much, a connection closed after an answer is drained:
// enough for a client to finish sending a body of a few megabytes and read
// the answer; a client sending more or for longer is cut.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 16 << 20
)

// lingeringConn is one connection of a Listener.
type lingeringConn struct {
	net.Conn
	active   atomic.Bool // a request is being served
	answered atomic.Bool // the server wrote since that request arrived
	closed   atomic.Bool
}

// Write passes the server's bytes on, replacing one of its own plain-text
// error answers with a problem document.
func (c *lingeringConn) Write(p []byte) (int, error) {
	c.answered.Store(true)
	answer, ok := serverAnswerAsProblem(p)
	if !ok {
		return c.Conn.Write(p)
	}
	if _, err := c.Conn.Write(answer); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite half-closes the connection; net/http calls it before closing a
// connection whose request it did not read to the end.
func (c *lingeringConn) CloseWrite() error { return closeWrite(c.Conn) }

// Close closes the connection, first draining what the client still sends
// when the server closes right after answering.
func (c *lingeringConn) Close() error {
	if !c.closed.Swap(true) && c.active.Load() && c.answered.Load() {
		_ = closeWrite(c.Conn)
		_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
	}
	return c.Conn.Close()
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// serverErrorHeaders is the header block net/http's server writes on the
// plain-text answers it sends without a handler.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverAnswerDetail is the problem detail of each status net/http answers
// itself with serverErrorHeaders.
var serverAnswerDetail = map[int]string{
	http.StatusBadRequest:                  "the request could not be parsed",
	http.StatusRequestHeaderFieldsTooLarge: "request header fields are too large",
	http.StatusNotImplemented:              "unsupported transfer coding: only chunked is accepted",
	http.StatusHTTPVersionNotSupported:     "unsupported HTTP version: only HTTP/1.x is served",
}

// serverAnswerAsProblem recognises one of net/http's own plain-text error
// answers, written whole in one Write ("HTTP/1.1 <code> <reason>[: <text>]",
// serverErrorHeaders, a short body), and returns a problem document answer
// in its place. Handler responses never match: their headers are written by
// net/http in sorted order, Connection before Content-Type, and always carry
// the engine's own headers.
func serverAnswerAsProblem(p []byte) ([]byte, bool) {
	const prefix = "HTTP/1.1 "
	if len(p) > 1024 || !bytes.HasPrefix(p, []byte(prefix)) {
		return nil, false
	}
	statusLine, body, found := bytes.Cut(p[len(prefix):], []byte(serverErrorHeaders))
	if !found || bytes.ContainsAny(statusLine, "\r\n") || bytes.ContainsAny(body, "\r\n") || len(statusLine) < 4 || statusLine[3] != ' ' {
		return nil, false
	}
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || status < 400 || status > 599 {
		return nil, false
	}
	detail, known := serverAnswerDetail[status]
	if !known {
		return nil, false
	}
	if _, text, ok := bytes.Cut(statusLine, []byte(": ")); ok && status == http.StatusBadRequest {
		detail = string(text) // net/http's fixed texts, such as "missing required Host header"
	}
	if status >= 500 {
		status = http.StatusBadRequest
	}
	doc, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\n"+
		"X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), len(doc), doc), true
}
