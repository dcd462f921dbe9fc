package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// headerLimit refuses, with a 431 problem, a request whose request line and
// header block are larger than limit bytes; 0 means no limit. The HTTP
// server reads headers up to a larger hard limit of its own, so that the
// common oversize requests (a huge cookie or token) get a problem document
// here instead of net/http's plain-text 431.
func headerLimit(limit int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if limit > 0 && headerBlockSize(c.Request) > limit {
			writeProblemStatus(c, http.StatusRequestHeaderFieldsTooLarge, "request header fields are too large")
			return
		}
		c.Next()
	}
}

// headerBlockSize is the size of r's request line and header block as it
// came on the wire, the bytes http.Server.MaxHeaderBytes counts: each line
// with its CRLF, "Name: value" per field value, the Host field net/http
// moves to r.Host, and the empty line that ends the block.
func headerBlockSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2
}
