package bootstrap

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/natsevents"
	"example.com/usersvc/application/eventrelay"
	"example.com/usersvc/ports"
)

// Events wires the event relay: it delivers what every context records in
// the platform's outbox (ports.Outbox) to the in-process subscribers that
// modules add to the value group "event_subscribers" (ports.Subscriber),
// and to NATS JetStream when EVENTS_NATS_URL is set; it deletes delivered
// events after EVENTS_RETENTION, and reports its backlog and failures on
// the service's metrics. Several instances may relay at once.
func Events() fx.Option {
	return fx.Module("events",
		fx.Provide(
			newPublisher,
			fx.Annotate(newRelayDeps, fx.ParamTags(``, ``, ``, ``, `group:"event_subscribers"`)),
			eventrelay.NewRelayEvents,
			eventrelay.NewPurgeDelivered,
			newRelayMetrics,
		),
		fx.Invoke(runRelay, runPurge),
	)
}

// firstRetry is the wait after an event's first failed delivery; it doubles
// per failure up to EVENTS_RETRY_MAX_BACKOFF.
const firstRetry = time.Second

// relayRoundTimeout bounds one round of the relay: its claim (held open on
// PostgreSQL while the broker acknowledges), its deliveries and its marks.
const relayRoundTimeout = 30 * time.Second

// purgeEvery is how often delivered events past their retention are
// deleted.
const purgeEvery = time.Minute

// newPublisher connects to EVENTS_NATS_URL, if set, without waiting for
// the server: events wait in the outbox until it answers. nil when unset.
func newPublisher(lc fx.Lifecycle, cfg Config) (ports.Publisher, error) {
	if cfg.EventsNATSURL == "" {
		return nil, nil
	}
	p, err := natsevents.Connect(cfg.EventsNATSURL, natsevents.Options{})
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(p.Close))
	return p, nil
}

func newRelayDeps(cfg Config, outbox ports.Outbox, clk ports.Clock, publisher ports.Publisher, subscribers []ports.Subscriber) eventrelay.Deps {
	return eventrelay.Deps{
		Outbox: outbox, Publisher: publisher, Subscribers: subscribers, Clock: clk,
		Settings: eventrelay.Settings{
			BatchSize:         cfg.EventsBatchSize,
			FirstRetry:        min(firstRetry, cfg.EventsRetryMaxBackoff),
			MaxRetry:          cfg.EventsRetryMaxBackoff,
			Retention:         cfg.EventsRetention,
			PurgeBatchTimeout: cfg.DBQueryTimeout,
		},
	}
}

// relayMetrics are the relay's Prometheus metrics: the backlog and the age
// of the oldest undelivered event, read from the outbox at each scrape, and
// the failed and the successful deliveries.
type relayMetrics struct {
	outbox    ports.Outbox
	clock     ports.Clock
	backlog   *prometheus.Desc
	oldest    *prometheus.Desc
	failures  *prometheus.CounterVec
	delivered prometheus.Counter
}

// backlogReadTimeout bounds the outbox query of one scrape, so that a slow
// database delays /metrics by at most this.
const backlogReadTimeout = time.Second

func newRelayMetrics(outbox ports.Outbox, clk ports.Clock, metrics *httpapi.Metrics) (*relayMetrics, error) {
	m := &relayMetrics{
		outbox:  outbox,
		clock:   clk,
		backlog: prometheus.NewDesc("events_outbox_backlog", "Events recorded in the outbox and not delivered yet.", nil, nil),
		oldest:  prometheus.NewDesc("events_outbox_oldest_undelivered_age_seconds", "Age of the oldest undelivered event (0 when none).", nil, nil),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_publish_failures_total", Help: "Failed deliveries of events, each retried later, by target (broker or subscriber).",
		}, []string{"target"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "events_delivered_total", Help: "Events delivered to every subscriber and, when configured, acknowledged by the broker.",
		}),
	}
	m.failures.WithLabelValues("broker")
	m.failures.WithLabelValues("subscriber")
	return m, metrics.Register(m, m.failures, m.delivered)
}

// Describe implements prometheus.Collector for the backlog gauges.
func (m *relayMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.backlog; ch <- m.oldest }

// Collect reads the backlog; when the outbox cannot be read the gauges are
// left out of this scrape rather than failing it.
func (m *relayMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogReadTimeout)
	defer cancel()
	b, err := m.outbox.Backlog(ctx)
	if err != nil {
		return
	}
	age := 0.0
	if b.Undelivered > 0 {
		age = max(0, m.clock.Now().Sub(b.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.backlog, prometheus.GaugeValue, float64(b.Undelivered))
	ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age)
}

func (m *relayMetrics) observe(r eventrelay.Round) {
	m.delivered.Add(float64(r.Delivered))
	for _, f := range r.Failures {
		target := "subscriber"
		if f.Publish {
			target = "broker"
		}
		m.failures.WithLabelValues(target).Inc()
	}
}

// runRelay runs the relay from start to stop in a goroutine of its own;
// stop waits for the round in progress.
func runRelay(lc fx.Lifecycle, cfg Config, uc *eventrelay.RelayEvents, outbox ports.Outbox, m *relayMetrics, log *slog.Logger) {
	runInBackground(lc, func(ctx context.Context) { relayLoop(ctx, cfg, uc, outbox.Recorded(), m, log) })
}

// relayLoop runs rounds until ctx ends: at once again after a full batch,
// else when this process commits events (wake) or EVENTS_POLL_INTERVAL
// passes. After a round that failed to reach the outbox or the broker it
// pauses, from EVENTS_POLL_INTERVAL doubling to EVENTS_RETRY_MAX_BACKOFF,
// and is not woken by commits meanwhile: an outage costs one attempt per
// pause, never a request's time. Logs name events by id and type only.
func relayLoop(ctx context.Context, cfg Config, uc *eventrelay.RelayEvents, wake <-chan struct{}, m *relayMetrics, log *slog.Logger) {
	var pause time.Duration
	for {
		round, err := func() (eventrelay.Round, error) {
			ctx, cancel := context.WithTimeout(ctx, relayRoundTimeout)
			defer cancel()
			return uc.Do(ctx)
		}()
		if ctx.Err() != nil {
			return
		}
		m.observe(round)
		for _, f := range round.Failures {
			target := "a subscriber"
			if f.Publish {
				target = "the broker"
			}
			log.Warn("event delivery failed; it will be retried", "event_id", f.ID.String(), "event_type", f.Type, "to", target, "err", f.Err.Error())
		}
		if err != nil {
			log.Warn("event relay round failed; the next one tries again", "err", err.Error())
		}
		wait, woken := cfg.EventsPollInterval, wake
		switch {
		case err != nil || round.BrokerDown:
			pause = min(max(2*pause, min(cfg.EventsPollInterval, cfg.EventsRetryMaxBackoff)), cfg.EventsRetryMaxBackoff)
			wait, woken = pause, nil
		case round.Full:
			pause = 0
			continue
		default:
			pause = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-woken:
			timer.Stop()
		}
	}
}

// runPurge deletes delivered events past EVENTS_RETENTION every purgeEvery,
// from start to stop.
func runPurge(lc fx.Lifecycle, uc *eventrelay.PurgeDelivered, log *slog.Logger) {
	runInBackground(lc, func(ctx context.Context) {
		sweepEvery(ctx, purgeEvery, uc.Do, log, sweepLog{
			count: "purged", failed: "purge of delivered events failed; the next run tries again", done: "delivered events purged",
		})
	})
}
