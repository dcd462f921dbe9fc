package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's Prometheus metrics that the HTTP layer and the
// password hasher report. Labels are bounded: the route label is the route
// template (or "unmatched"), never the raw path.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	rateLimited *prometheus.CounterVec
	reuse       prometheus.Counter
	hashTime    *prometheus.HistogramVec
	hashWait    *prometheus.HistogramVec
}

// NewMetrics registers the metrics on registry, which the caller also fills
// with runtime, process and database-pool collectors.
func NewMetrics(registry *prometheus.Registry) *Metrics {
	m := &Metrics{
		registry: registry,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Time to answer an HTTP request, by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight", Help: "HTTP requests being served now.",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rate_limit_rejections_total", Help: "Requests refused with 429, by limit.",
		}, []string{"limit"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refresh_token_reuse_detections_total", Help: "Refresh tokens presented after retirement; each revoked its session.",
		}),
		hashTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "password_hash_duration_seconds", Help: "Time one password hash or verification took, by scheme.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"scheme"}),
		hashWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "password_hash_queue_wait_seconds", Help: "Time spent waiting for a hashing slot, by whether one was had.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"acquired"}),
	}
	registry.MustRegister(m.requests, m.duration, m.inFlight, m.rateLimited, m.reuse, m.hashTime, m.hashWait)
	return m
}

// Register adds the collectors of another part of the service (the event
// relay) to the service's registry, served with these metrics. It fails when
// a collector's metric is already registered.
func (m *Metrics) Register(collectors ...prometheus.Collector) error {
	for _, c := range collectors {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// ObserveWait records a wait for a hashing slot (passwords.Observer).
func (m *Metrics) ObserveWait(wait time.Duration, acquired bool) {
	m.hashWait.WithLabelValues(strconv.FormatBool(acquired)).Observe(wait.Seconds())
}

// ObserveHash records one hash or verification (passwords.Observer).
func (m *Metrics) ObserveHash(scheme string, took time.Duration) {
	m.hashTime.WithLabelValues(scheme).Observe(took.Seconds())
}

// RateLimited counts one 429 of the named limit.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// RefreshReused counts one detected refresh-token reuse.
func (m *Metrics) RefreshReused() { m.reuse.Inc() }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// middleware measures every request by route template.
func (m *Metrics) middleware(c *gin.Context) {
	start := time.Now()
	m.inFlight.Inc()
	defer m.inFlight.Dec()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := strconv.Itoa(c.Writer.Status())
	m.requests.WithLabelValues(c.Request.Method, route, status).Inc()
	m.duration.WithLabelValues(c.Request.Method, route, status).Observe(time.Since(start).Seconds())
}

// MetricsRoutes serves GET /metrics on the engine it is registered with.
type MetricsRoutes struct{ m *Metrics }

// NewMetricsRoutes builds the /metrics route.
func NewMetricsRoutes(m *Metrics) *MetricsRoutes { return &MetricsRoutes{m: m} }

// Register adds GET /metrics to r.
func (mr *MetricsRoutes) Register(r gin.IRouter) { r.GET("/metrics", gin.WrapH(mr.m.Handler())) }
