package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestUserJSONIsEncodingJSONs checks that the hand-appended UserRead body is
// byte for byte what encoding/json (c.JSON) writes, for plain and awkward
// strings and times with and without fractions.
func TestUserJSONIsEncodingJSONs(t *testing.T) {
	name := func(s string) *string { return &s }
	at := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	for _, r := range []userResponse{
		{ID: "01a237e2-5af0-7a14-b985-2f59a2542eb6", Username: "Alice", CreatedAt: at, UpdatedAt: at},
		{ID: "x", Username: "bob_1.2-3", FullName: name("Bob Builder"), CreatedAt: at.Add(123456 * time.Microsecond), UpdatedAt: at.Add(time.Nanosecond)},
		{ID: "x", Username: `q"uote\back`, FullName: name("<b>&amp;</b>"), CreatedAt: at, UpdatedAt: at.Add(500 * time.Millisecond)},
		{ID: "x", Username: "Zoë", FullName: name("日本語 \u2028 line\tsep\n\x01 \xff"), CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{FullName: name("")},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s\nencoding/json = %s", got, want)
		}

		gin.SetMode(gin.ReleaseMode)
		viaJSON, viaUser := httptest.NewRecorder(), httptest.NewRecorder()
		c1, _ := gin.CreateTestContext(viaJSON)
		c1.JSON(http.StatusOK, r)
		c2, _ := gin.CreateTestContext(viaUser)
		writeUser(c2, http.StatusOK, r)
		if viaJSON.Body.String() != viaUser.Body.String() || viaJSON.Header().Get("Content-Type") != viaUser.Header().Get("Content-Type") || viaJSON.Code != viaUser.Code {
			t.Errorf("writeUser answered %d %q %s, c.JSON %d %q %s", viaUser.Code, viaUser.Header().Get("Content-Type"), viaUser.Body,
				viaJSON.Code, viaJSON.Header().Get("Content-Type"), viaJSON.Body)
		}
	}
}

// BenchmarkUserJSON compares GET /me's body written by c.JSON with
// writeUser.
func BenchmarkUserJSON(b *testing.B) {
	full := "Alice Liddell"
	at := time.Date(2026, 12, 2, 18, 0, 0, 123456000, time.UTC)
	r := userResponse{ID: "01a237e2-5af0-7a14-b985-2f59a2542eb6", Username: "Alice", FullName: &full, CreatedAt: at, UpdatedAt: at}
	gin.SetMode(gin.ReleaseMode)
	for _, w := range []struct {
		name  string
		write func(*gin.Context)
	}{
		{"c.JSON", func(c *gin.Context) { c.JSON(http.StatusOK, r) }},
		{"writeUser", func(c *gin.Context) { writeUser(c, http.StatusOK, r) }},
	} {
		b.Run(w.name, func(b *testing.B) {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			b.ReportAllocs()
			for b.Loop() {
				rec.Body.Reset()
				c.Writer.Header().Del("Content-Type")
				w.write(c)
			}
		})
	}
}
