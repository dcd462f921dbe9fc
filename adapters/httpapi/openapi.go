package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// The OpenAPI document, the docs page and its assets, embedded so that /docs
// works with no outside network. apidocs/README.md says where the Swagger UI
// files come from and how to update them.
var (
	//go:embed apidocs/openapi.json
	openAPIJSON []byte
	//go:embed apidocs/docs.html
	docsHTML []byte
	//go:embed apidocs/assets
	docsAssets embed.FS
)

// DocsCSP is the Content-Security-Policy of the /docs page. It replaces the
// engine's default-src 'none' for that page only: scripts, styles, fonts and
// images come from this origin alone (no inline scripts; inline styles, which
// Swagger UI sets on elements, and data: images, which its stylesheet uses,
// are allowed), requests go to this origin alone, and no site may frame it.
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// assetTypes are the content types of the files under apidocs/assets.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".png": "image/png",
}

// OpenAPIDocument returns the OpenAPI 3 document of the API contract, the one
// served at /openapi.json. Each call returns a fresh copy.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIJSON) }

// staticFile is one embedded file, ready to serve.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

func newStaticFile(body []byte, contentType string) staticFile {
	sum := sha256.Sum256(body)
	return staticFile{body: body, contentType: contentType, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
}

// serve answers with the file, or 304 when the request's If-None-Match holds
// its ETag. Clients may store the file but revalidate it on every use, so a
// new binary's files are picked up at once.
func (f staticFile) serve(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	if etagMatches(c.GetHeader("If-None-Match"), f.etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, f.contentType, f.body)
}

// etagMatches reports whether an If-None-Match header value names etag,
// with the weak comparison RFC 9110 prescribes for If-None-Match.
func etagMatches(ifNoneMatch, etag string) bool {
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == "*" || candidate == etag {
			return true
		}
	}
	return false
}

// DocsRoutes serves the OpenAPI document at /openapi.json and an interactive
// page for it (Swagger UI) at /docs, with its assets under /docs/assets/.
// Everything is embedded in the binary. It is safe for concurrent use.
type DocsRoutes struct {
	openapi staticFile
	page    staticFile
	assets  map[string]staticFile
}

// NewDocsRoutes builds the documentation routes from the embedded files.
func NewDocsRoutes() *DocsRoutes {
	d := &DocsRoutes{
		openapi: newStaticFile(openAPIJSON, "application/json; charset=utf-8"),
		page:    newStaticFile(docsHTML, "text/html; charset=utf-8"),
		assets:  map[string]staticFile{},
	}
	// Reading an embedded directory cannot fail: go build checked it exists.
	entries, _ := docsAssets.ReadDir("apidocs/assets")
	for _, e := range entries {
		body, _ := docsAssets.ReadFile("apidocs/assets/" + e.Name())
		if ct, ok := assetTypes[path.Ext(e.Name())]; ok {
			d.assets[e.Name()] = newStaticFile(body, ct)
		}
	}
	return d
}

// Register adds GET /openapi.json, GET /docs and GET /docs/assets/:file to r.
// The docs page gets DocsCSP instead of the engine's stricter policy; an
// unknown asset gets a 404 problem.
func (d *DocsRoutes) Register(r gin.IRouter) {
	r.GET("/openapi.json", d.openapi.serve)
	r.GET("/docs", func(c *gin.Context) {
		c.Header("Content-Security-Policy", DocsCSP)
		d.page.serve(c)
	})
	r.GET("/docs/assets/:file", func(c *gin.Context) {
		f, ok := d.assets[c.Param("file")]
		if !ok {
			writeProblemStatus(c, http.StatusNotFound, "no such route")
			return
		}
		f.serve(c)
	})
}
