package bootstrap_test

// Observability end to end (issue 4, README "Operations"): Prometheus metrics
// on the main listener and on METRICS_ADDR, the access log, request ids in
// headers, problems and log lines, and the log settings. /healthz and /readyz
// are in api_test.go, /readyz while draining in process_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"example.com/usersvc/adapters/sqlstore/sqltest"
	"example.com/usersvc/bootstrap"
	"example.com/usersvc/ports"
)

// metricSet is one scrape of /metrics, parsed.
type metricSet struct {
	raw      string
	families map[string]*dto.MetricFamily
}

// parseMetrics parses a /metrics answer in the Prometheus text format.
func parseMetrics(t testing.TB, contentType string, body []byte) metricSet {
	t.Helper()
	if !strings.HasPrefix(contentType, "text/plain") {
		t.Fatalf("/metrics Content-Type %q, want text/plain (Prometheus text format)", contentType)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not in the Prometheus text format: %v\n%.3000s", err, body)
	}
	return metricSet{raw: string(body), families: families}
}

// scrape reads /metrics on the app's main listener.
func (c *client) scrape() metricSet {
	c.t.Helper()
	r := c.do(http.MethodGet, "/metrics", nil)
	r.wantStatus(c.t, http.StatusOK)
	return parseMetrics(c.t, r.Header.Get("Content-Type"), r.Body)
}

// series returns the sample of family name whose labels are exactly labels
// (name, value, name, value ...), or nil.
func (m metricSet) series(name string, labels ...string) *dto.Metric {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, s := range m.families[name].GetMetric() {
		if len(s.GetLabel()) != len(want) {
			continue
		}
		for _, l := range s.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return s
	}
	return nil
}

// value is a counter's or gauge's value, or a histogram's sample count, of
// one series; 0 when the series is absent.
func (m metricSet) value(name string, labels ...string) float64 {
	s := m.series(name, labels...)
	switch {
	case s == nil:
		return 0
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	case s.Untyped != nil:
		return s.GetUntyped().GetValue()
	}
	return 0
}

// labelValues lists the values family name has for label.
func (m metricSet) labelValues(name, label string) []string {
	var out []string
	for _, s := range m.families[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// total sums a counter family over all its series.
func (m metricSet) total(name string) float64 {
	var sum float64
	for _, s := range m.families[name].GetMetric() {
		sum += s.GetCounter().GetValue()
	}
	return sum
}

// wantIncrease fails unless one series rose by exactly want between scrapes.
func wantIncrease(t testing.TB, before, after metricSet, want float64, name string, labels ...string) {
	t.Helper()
	if got := after.value(name, labels...) - before.value(name, labels...); got != want {
		t.Errorf("%s%v rose by %g, want %g", name, labels, got, want)
	}
}

// wantFamily fails unless family name exists with type typ, and returns it.
func wantFamily(t testing.TB, m metricSet, name string, typ dto.MetricType) *dto.MetricFamily {
	t.Helper()
	f := m.families[name]
	if f == nil {
		t.Errorf("/metrics has no %s", name)
		return nil
	}
	if f.GetType() != typ {
		t.Errorf("%s is a %s, want a %s", name, f.GetType(), typ)
	}
	return f
}

// rawCanary is a path segment of unknown routes that must never reach
// /metrics or the logs (a word no timestamp, id or number can contain).
const rawCanary = "raw-canary-qzx"

func TestMetricsCountRequestsByRouteTemplateAndStatus(t *testing.T) {
	const grace = time.Second
	c := newApp(t, withGrace(grace), withConfig(func(cfg *bootstrap.Config) {
		cfg.RateLimits = true
		cfg.LimitSignUpPerIP = ports.Limit{Events: 2, Window: time.Hour}
		cfg.LimitLogInPerIP, cfg.LimitRefreshPerIP, cfg.LimitFailedLogIns = ports.Limit{}, ports.Limit{}, ports.Limit{}
	}))
	const (
		signup  = base + "/signup"
		login   = base + "/login"
		refresh = base + "/refresh"
		me      = base + "/me"
	)
	before := c.scrape()

	s := c.signup("Metered1") // one argon2id hash
	c.me(s.access)
	c.me(s.access)
	c.do(http.MethodPost, login, map[string]string{"username": "Metered1", "password": "Wr0ng!Guess"}).
		wantProblem(t, http.StatusUnauthorized) // one verification
	c.login("metered1", goodPassword) // one verification
	c.do(http.MethodGet, base+"/"+rawCanary+"/secret", nil, malformed()).wantProblem(t, http.StatusNotFound)
	c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	c.refresh(s.refresh).wantTokens(t, http.StatusOK) // the retired token within grace: no reuse
	mid := c.scrape()
	time.Sleep(grace + 300*time.Millisecond)
	c.refresh(s.refresh).wantProblem(t, http.StatusUnauthorized) // past grace: reuse, session revoked
	c.signup("Metered2")                                         // one argon2id hash
	c.do(http.MethodPost, signup, credentials{Username: "Metered3", Password: goodPassword}).
		wantProblem(t, http.StatusTooManyRequests) // refused before any hashing
	after := c.scrape()

	// Requests by method, route template and status; the two earlier
	// scrapes count too (a scrape is counted once it is answered).
	want := []struct {
		n                     float64
		method, route, status string
	}{
		{2, "POST", signup, "201"},
		{1, "POST", signup, "429"},
		{2, "GET", me, "200"},
		{1, "POST", login, "401"},
		{1, "POST", login, "200"},
		{1, "GET", "unmatched", "404"},
		{2, "POST", refresh, "200"},
		{1, "POST", refresh, "401"},
		{2, "GET", "/metrics", "200"},
	}
	var sum float64
	for _, w := range want {
		labels := []string{"method", w.method, "route", w.route, "status", w.status}
		wantIncrease(t, before, after, w.n, "http_requests_total", labels...)
		wantIncrease(t, before, after, w.n, "http_request_duration_seconds", labels...)
		sum += w.n
	}
	if got := after.total("http_requests_total") - before.total("http_requests_total"); got != sum {
		t.Errorf("http_requests_total rose by %g in all, want %g: some request went to another series", got, sum)
	}
	wantFamily(t, after, "http_requests_total", dto.MetricType_COUNTER)
	wantFamily(t, after, "http_request_duration_seconds", dto.MetricType_HISTOGRAM)
	// The latency histogram matches the counter series by series and has
	// buckets and a positive sum.
	for _, s := range after.families["http_requests_total"].GetMetric() {
		var labels []string
		for _, l := range s.GetLabel() {
			labels = append(labels, l.GetName(), l.GetValue())
		}
		h := after.series("http_request_duration_seconds", labels...)
		if h == nil || float64(h.GetHistogram().GetSampleCount()) != s.GetCounter().GetValue() {
			t.Errorf("http_request_duration_seconds%v does not match http_requests_total (%g)", labels, s.GetCounter().GetValue())
			continue
		}
		if len(h.GetHistogram().GetBucket()) < 5 || h.GetHistogram().GetSampleSum() <= 0 {
			t.Errorf("http_request_duration_seconds%v: %d buckets, sum %g; want buckets and a positive sum", labels, len(h.GetHistogram().GetBucket()), h.GetHistogram().GetSampleSum())
		}
	}

	// Bounded cardinality: the route label is a template or "unmatched",
	// and the raw path of the unknown route is nowhere in /metrics.
	templates := map[string]bool{signup: true, login: true, refresh: true, me: true, "/metrics": true, "unmatched": true}
	for _, family := range []string{"http_requests_total", "http_request_duration_seconds"} {
		for _, route := range after.labelValues(family, "route") {
			if !templates[route] {
				t.Errorf("%s has route=%q, want a route template or \"unmatched\"", family, route)
			}
		}
	}
	for _, raw := range []string{rawCanary, "/secret"} {
		if strings.Contains(after.raw, raw) {
			t.Errorf("/metrics contains the raw path's %q", raw)
		}
	}

	// Password hashing: signup, wrong and right password, signup.
	wantFamily(t, after, "password_hash_duration_seconds", dto.MetricType_HISTOGRAM)
	wantFamily(t, after, "password_hash_queue_wait_seconds", dto.MetricType_HISTOGRAM)
	wantIncrease(t, before, after, 4, "password_hash_duration_seconds", "scheme", "argon2id")
	if h := after.series("password_hash_duration_seconds", "scheme", "argon2id"); h == nil || h.GetHistogram().GetSampleSum() <= before.series("password_hash_duration_seconds", "scheme", "argon2id").GetHistogram().GetSampleSum() {
		t.Error("password_hash_duration_seconds{scheme=argon2id} sum did not grow")
	}
	wantIncrease(t, before, after, 4, "password_hash_queue_wait_seconds", "acquired", "true")
	wantIncrease(t, before, after, 0, "password_hash_queue_wait_seconds", "acquired", "false")

	// Abuse: one 429 of the signup limit; one reuse, and none within grace.
	wantFamily(t, after, "rate_limit_rejections_total", dto.MetricType_COUNTER)
	wantIncrease(t, before, after, 1, "rate_limit_rejections_total", "limit", "signup")
	if got := after.total("rate_limit_rejections_total") - before.total("rate_limit_rejections_total"); got != 1 {
		t.Errorf("rate_limit_rejections_total rose by %g in all, want 1", got)
	}
	wantFamily(t, after, "refresh_token_reuse_detections_total", dto.MetricType_COUNTER)
	wantIncrease(t, before, mid, 0, "refresh_token_reuse_detections_total")
	wantIncrease(t, mid, after, 1, "refresh_token_reuse_detections_total")
}

func TestMetricsShowInFlightRequestsPoolRuntimeAndProcess(t *testing.T) {
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.DBMaxOpenConns = 7 }))
	m := c.scrape()
	wantFamily(t, m, "http_requests_in_flight", dto.MetricType_GAUGE)
	if v := m.value("http_requests_in_flight"); v != 1 {
		t.Errorf("http_requests_in_flight %g during a lone scrape, want 1 (the scrape)", v)
	}

	// Hold a request open: its headers are in, its body is not.
	body, feed := io.Pipe()
	t.Cleanup(func() { feed.Close() }) // before the server closes, should the test fail
	req, err := http.NewRequest(http.MethodPost, c.app.url+base+"/login", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	answered := make(chan string, 1)
	go func() {
		res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		answered <- res.Status
	}()
	eventually(t, 10*time.Second, "http_requests_in_flight 2 (the held request and the scrape)", func() bool {
		return c.scrape().value("http_requests_in_flight") == 2
	})
	fmt.Fprintf(feed, `{"username":"nobody","password":%q}`, goodPassword)
	feed.Close()
	select {
	case status := <-answered:
		if !strings.HasPrefix(status, "401") {
			t.Errorf("held login answered %s, want 401", status)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("held request not answered")
	}
	eventually(t, 10*time.Second, "http_requests_in_flight back to 1", func() bool {
		return c.scrape().value("http_requests_in_flight") == 1
	})

	m = c.scrape()
	// Database pool statistics of the service's own pool.
	for _, name := range []string{"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total"} {
		dbNames := m.labelValues(name, "db_name")
		if len(dbNames) != 1 || dbNames[0] == "" {
			t.Errorf("%s: db_name labels %q, want one series with a db_name", name, dbNames)
		}
	}
	dbName := m.labelValues("go_sql_max_open_connections", "db_name")
	if len(dbName) == 1 {
		if v := m.value("go_sql_max_open_connections", "db_name", dbName[0]); v != 7 {
			t.Errorf("go_sql_max_open_connections %g, want 7 (DB_MAX_OPEN_CONNS)", v)
		}
		if v := m.value("go_sql_open_connections", "db_name", dbName[0]); v < 1 || v > 7 {
			t.Errorf("go_sql_open_connections %g, want 1 to 7 after database work", v)
		}
	}

	// Go runtime and process.
	wantFamily(t, m, "go_goroutines", dto.MetricType_GAUGE)
	if v := m.value("go_goroutines"); v < 2 {
		t.Errorf("go_goroutines %g", v)
	}
	if m.series("go_info", "version", runtime.Version()) == nil {
		t.Errorf("no go_info{version=%q}", runtime.Version())
	}
	wantFamily(t, m, "go_gc_duration_seconds", dto.MetricType_SUMMARY)
	wantFamily(t, m, "go_memstats_heap_alloc_bytes", dto.MetricType_GAUGE)
	if runtime.GOOS == "linux" {
		if v := m.value("process_resident_memory_bytes"); v < 1<<20 {
			t.Errorf("process_resident_memory_bytes %g, want a real resident size", v)
		}
		if v := m.value("process_open_fds"); v < 3 {
			t.Errorf("process_open_fds %g", v)
		}
		start := time.Unix(int64(m.value("process_start_time_seconds")), 0)
		if time.Since(start) < 0 || time.Since(start) > time.Hour {
			t.Errorf("process_start_time_seconds %s, want this test process's start", start)
		}
	}
}

// freeAddr returns a loopback address with a port free just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// plainGet sends a GET with an X-Request-ID and reads the whole answer.
func plainGet(t *testing.T, rawURL, requestID string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func TestMetricsAddrKeepsMetricsOffTheMainListener(t *testing.T) {
	metricsAddr := freeAddr(t)
	p := startProcess(t, "METRICS_ADDR="+metricsAddr)

	// The main listener has no /metrics: a 404 problem.
	res, body := plainGet(t, p.base+"/metrics", "main-metrics-1")
	if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("GET /metrics on the main address: %d %q, want a 404 problem\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var p404 problem
	if err := json.Unmarshal(body, &p404); err != nil || p404.Status != http.StatusNotFound || p404.RequestID != "main-metrics-1" {
		t.Errorf("404 problem %s (%v), want status 404 and request_id main-metrics-1", body, err)
	}

	// The metrics address serves them, and counted the 404 as unmatched.
	metricsURL := "http://" + metricsAddr + "/metrics"
	res, body = plainGet(t, metricsURL, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", metricsURL, res.StatusCode, body)
	}
	m := parseMetrics(t, res.Header.Get("Content-Type"), body)
	if v := m.value("http_requests_total", "method", "GET", "route", "unmatched", "status", "404"); v != 1 {
		t.Errorf(`http_requests_total{method="GET",route="unmatched",status="404"} = %g, want 1`, v)
	}
	if strings.Contains(m.raw, `route="/metrics"`) {
		t.Error("the metrics address counts its scrapes as requests of the main listener")
	}
	for _, name := range []string{"http_request_duration_seconds", "http_requests_in_flight", "go_goroutines", "process_resident_memory_bytes", "go_sql_open_connections"} {
		if m.families[name] == nil {
			t.Errorf("%s has no %s", metricsURL, name)
		}
	}

	// The metrics address serves nothing else.
	for _, path := range []string{"/healthz", "/api/v1/users/me", "/docs"} {
		if res, _ := plainGet(t, "http://"+metricsAddr+path, ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the metrics address: %d, want 404", path, res.StatusCode)
		}
	}
	if res, _ := plainGet(t, p.base+"/healthz", ""); res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on the main address: %d", res.StatusCode)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"metrics listening","addr":"http://`+metricsAddr+`/metrics"`) {
		t.Errorf("no log line says where the metrics listen:\n%s", p.stderr)
	}
}

// accessLines returns the access-log lines ("request") carrying request id id.
func (a *app) accessLines(t testing.TB, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range a.logLines(t) {
		if l["msg"] == "request" && l["request_id"] == id {
			out = append(out, l)
		}
	}
	return out
}

// linesOfRequest sends one request through send and returns every log line
// the service wrote while handling it: those after the lines already written,
// up to and including its access line (requests are sequential here).
func (c *client) linesOfRequest(id string, send func()) []map[string]any {
	c.t.Helper()
	n := len(c.app.logLines(c.t))
	send()
	eventually(c.t, 5*time.Second, "the access line of request "+id, func() bool {
		return len(c.app.accessLines(c.t, id)) > 0
	})
	return c.app.logLines(c.t)[n:]
}

func TestAccessLogWritesOneLinePerRequest(t *testing.T) {
	c := newApp(t)
	type sent struct {
		id, method, route string
		r                 *response
	}
	var all []sent
	send := func(id, method, path, route string, body any, opts ...reqOpt) *response {
		t.Helper()
		r := c.do(method, path, body, append(opts, header("X-Request-ID", id))...)
		all = append(all, sent{id: id, method: method, route: route, r: r})
		return r
	}
	r := send("acc-1", http.MethodPost, base+"/signup", base+"/signup", credentials{Username: "Logged1", Password: goodPassword})
	s := r.wantTokens(t, http.StatusCreated)
	send("acc-2", http.MethodGet, base+"/me", base+"/me", nil, bearer(s.access)).wantStatus(t, http.StatusOK)
	send("acc-3", http.MethodPatch, base, base, map[string]any{"full_name": "Log Ger"}, bearer(s.access)).wantStatus(t, http.StatusOK)
	send("acc-4", http.MethodGet, base+"/"+rawCanary+"/secret?token=hunter2", "unmatched", nil, malformed()).wantProblem(t, http.StatusNotFound)
	send("acc-5", http.MethodPost, base+"/login", base+"/login", map[string]string{"username": "Logged1", "password": "Wr0ng!Guess"}).wantProblem(t, http.StatusUnauthorized)
	send("acc-6", http.MethodGet, "/healthz", "/healthz", nil).wantStatus(t, http.StatusOK)
	send("acc-7", http.MethodGet, base+"/me", base+"/me", nil).wantProblem(t, http.StatusUnauthorized)

	eventually(t, 5*time.Second, "one access line per request", func() bool {
		n := 0
		for _, l := range c.app.logLines(t) {
			if l["msg"] == "request" {
				n++
			}
		}
		return n >= len(all)
	})
	access := 0
	for _, l := range c.app.logLines(t) {
		if l["msg"] == "request" {
			access++
		}
	}
	if access != len(all) {
		t.Errorf("%d access lines for %d requests", access, len(all))
	}
	for _, s := range all {
		lines := c.app.accessLines(t, s.id)
		if len(lines) != 1 {
			t.Errorf("%s: %d access lines, want exactly 1", s.id, len(lines))
			continue
		}
		l := lines[0]
		d, isNumber := l["duration_ms"].(float64)
		if l["level"] != "INFO" || l["method"] != s.method || l["route"] != s.route || l["status"] != float64(s.r.Status) ||
			l["bytes"] != float64(len(s.r.Body)) || l["client_ip"] != "127.0.0.1" || !isNumber || d < 0 {
			t.Errorf("%s: access line %v; want level INFO, method %s, route %s, status %d, bytes %d, client_ip 127.0.0.1, duration_ms ≥ 0",
				s.id, l, s.method, s.route, s.r.Status, len(s.r.Body))
		}
		if s.r.Header.Get("X-Request-ID") != s.id {
			t.Errorf("%s: X-Request-ID answered %q", s.id, s.r.Header.Get("X-Request-ID"))
		}
	}
	logs := c.app.logs.String()
	for _, raw := range []string{rawCanary, "hunter2", "token="} {
		if strings.Contains(logs, raw) {
			t.Errorf("the log contains the raw path or query (%q)", raw)
		}
	}
}

// requestIDPattern is the README's rule for a well-formed X-Request-ID.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestRequestIDReachesHeaderProblemAndEveryLogLine(t *testing.T) {
	c := newApp(t, withGrace(0))
	var s session
	c.linesOfRequest("setup-1", func() {
		s = c.do(http.MethodPost, base+"/signup", credentials{Username: "Traced", Password: goodPassword}, header("X-Request-ID", "setup-1")).
			wantTokens(t, http.StatusCreated)
	})

	// Error answers that log more than the access line: a failed log-in
	// (audit) and a refresh reuse (audit), each with the client's id.
	next := c.refresh(s.refresh).wantTokens(t, http.StatusOK)
	cases := []struct {
		id, what  string
		send      func(id string) *response
		status    int
		wantAudit string
	}{
		{"abc-123.def", "failed login", func(id string) *response {
			return c.do(http.MethodPost, base+"/login", map[string]string{"username": "Traced", "password": "Wr0ng!Guess"}, header("X-Request-ID", id))
		}, http.StatusUnauthorized, "login"},
		{"reuse:42_" + strings.Repeat("x", 119), "refresh reuse (a 128-character id)", func(id string) *response {
			return c.do(http.MethodPost, base+"/refresh", nil, withCookie(s.refresh), header("X-Request-ID", id))
		}, http.StatusUnauthorized, "refresh_reuse_detected"},
	}
	for _, tc := range cases {
		if len(tc.id) > 128 {
			t.Fatalf("test id too long: %d", len(tc.id))
		}
		var r *response
		lines := c.linesOfRequest(tc.id, func() { r = tc.send(tc.id) })
		p := r.wantProblem(t, tc.status)
		if got := r.Header.Get("X-Request-ID"); got != tc.id {
			t.Errorf("%s: X-Request-ID answered %q, want %q", tc.what, got, tc.id)
		}
		if p.RequestID != tc.id {
			t.Errorf("%s: problem request_id %q, want %q", tc.what, p.RequestID, tc.id)
		}
		sawAudit, sawAccess := false, false
		for _, l := range lines {
			if l["request_id"] != tc.id {
				t.Errorf("%s: a log line of the request lacks its request_id: %v", tc.what, l)
			}
			sawAudit = sawAudit || (l["msg"] == "audit" && l["event"] == tc.wantAudit)
			sawAccess = sawAccess || l["msg"] == "request"
		}
		if !sawAudit || !sawAccess {
			t.Errorf("%s: want an audit line %q and an access line, got %v", tc.what, tc.wantAudit, lines)
		}
	}
	c.wantRefreshRefused(next.refresh) // the reuse above did revoke the session

	// Malformed or missing ids are replaced by generated, well-formed ones.
	seen := map[string]string{}
	for what, sentID := range map[string]string{
		"spaces":              "abc 123",
		"200 characters":      strings.Repeat("a", 200),
		"129 characters":      strings.Repeat("b", 129),
		"markup":              "<script>alert(1)</script>",
		"slash":               "slash/in/id",
		"non-ASCII":           "idé",
		"no X-Request-ID":     "",
		"no X-Request-ID too": "",
	} {
		r := c.do(http.MethodGet, base+"/me", nil, header("X-Request-ID", sentID))
		p := r.wantProblem(t, http.StatusUnauthorized)
		got := r.Header.Get("X-Request-ID")
		if got == sentID || !requestIDPattern.MatchString(got) {
			t.Errorf("%s: X-Request-ID answered %q for %q, want a generated well-formed id", what, got, sentID)
			continue
		}
		if p.RequestID != got {
			t.Errorf("%s: problem request_id %q, header %q", what, p.RequestID, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s got the same generated id %q", what, other, got)
		}
		seen[got] = what
		eventually(t, 5*time.Second, "the access line of "+what, func() bool { return len(c.app.accessLines(t, got)) == 1 })
	}
	logs := c.app.logs.String()
	for _, bad := range []string{"abc 123", strings.Repeat("a", 200), "script", "slash/in/id", "idé"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the log contains the malformed request id %q", bad)
		}
	}
}

func TestTextLogFormatWritesTextLines(t *testing.T) {
	p := startProcess(t, "LOG_FORMAT=text")
	if res, _ := plainGet(t, p.base+"/healthz", "text-1"); res.StatusCode != http.StatusOK || res.Header.Get("X-Request-ID") != "text-1" {
		t.Fatalf("GET /healthz: %d, X-Request-ID %q", res.StatusCode, res.Header.Get("X-Request-ID"))
	}
	if res, _ := plainGet(t, p.base+"/nope", "text-2"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope: %d", res.StatusCode)
	}
	find := func(id string) string {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(line, " msg=request ") && strings.HasSuffix(line, " request_id="+id) {
				return line
			}
		}
		return ""
	}
	eventually(t, 5*time.Second, "access lines in text", func() bool { return find("text-1") != "" && find("text-2") != "" })
	access := regexp.MustCompile(`^time=\S+ level=INFO msg=request method=GET route=(\S+) status=(\d+) duration_ms=[0-9.e+-]+ bytes=\d+ client_ip=127\.0\.0\.1 request_id=(\S+)$`)
	for id, want := range map[string][]string{"text-1": {"/healthz", "200"}, "text-2": {"unmatched", "404"}} {
		m := access.FindStringSubmatch(find(id))
		if m == nil || m[1] != want[0] || m[2] != want[1] || m[3] != id {
			t.Errorf("text access line %q, want route=%s status=%s request_id=%s in slog's text format", find(id), want[0], want[1], id)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		if strings.HasPrefix(line, "{") || !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") {
			t.Errorf("LOG_FORMAT=text wrote a line that is not slog text: %q", line)
		}
	}
}

func TestLogLevelWarnSuppressesInfoLines(t *testing.T) {
	c := newApp(t, withConfig(func(cfg *bootstrap.Config) { cfg.LogLevel = "warn" }))
	s := c.signup("Quiet")
	c.me(s.access)
	c.do(http.MethodGet, "/healthz", nil).wantStatus(t, http.StatusOK)
	c.do(http.MethodGet, base+"/nope", nil, malformed()).wantProblem(t, http.StatusNotFound)
	c.do(http.MethodPost, base+"/login", map[string]string{"username": "Quiet", "password": "Wr0ng!Guess"}).wantProblem(t, http.StatusUnauthorized)
	time.Sleep(100 * time.Millisecond) // let any late line arrive

	warned := false
	for _, l := range c.app.logLines(t) {
		switch l["level"] {
		case "WARN", "ERROR":
			warned = true
		default:
			t.Errorf("LOG_LEVEL=warn wrote a %v line: %v", l["level"], l)
		}
	}
	// A fresh DATA_DIR makes the service warn about its development key:
	// warnings still come through.
	if !warned {
		t.Errorf("LOG_LEVEL=warn wrote no warning at all:\n%s", c.app.logs)
	}
}

// TestSlowStatementLogLineCarriesTheRequestID holds a table lock so that a
// request's query runs past the slow-statement threshold (500 ms): the
// "slow database statement" warning is a log line of that request and must
// carry its request_id like every other.
func TestSlowStatementLogLineCarriesTheRequestID(t *testing.T) {
	c := newApp(t)
	s := c.signup("Slowpoke")

	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = sqltest.DefaultPostgresURL
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + c.app.dbName
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE users, sessions IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	const id = "slow-req-1"
	lines := c.linesOfRequest(id, func() {
		answered := make(chan *response, 1)
		go func() {
			r, err := c.send(http.MethodGet, base+"/me", nil, bearer(s.access), header("X-Request-ID", id))
			if err != nil {
				t.Error(err)
			}
			answered <- r
		}()
		time.Sleep(800 * time.Millisecond)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if r := <-answered; r == nil || r.Status != http.StatusOK {
			t.Fatalf("GET /me after the lock: %+v", r)
		}
	})
	slow := false
	for _, l := range lines {
		if l["msg"] == "slow database statement" {
			slow = true
		}
		if l["request_id"] != id {
			t.Errorf("a log line of request %s lacks its request_id: %v", id, l)
		}
	}
	if !slow {
		t.Fatalf("no slow-statement line: the lock did not slow the request down\n%v", lines)
	}
}
