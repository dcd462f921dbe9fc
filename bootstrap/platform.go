package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/clock"
	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/ratelimit"
	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/ports"
)

// Platform provides what every bounded context shares: configuration, the
// logger, clock and id source, the database and its transactions, the
// outbox that records events in them (ports.Events) and that the relay
// delivers from (ports.Outbox), token
// signing and verification, the authenticator of every bearer route (with the
// revocations it checks), the abuse guard, the gin engine (with every
// module's routes) and the HTTP server.
func Platform(cfg Config, logOut io.Writer) fx.Option {
	return fx.Module("platform",
		fx.Supply(cfg),
		fx.Provide(
			func() *slog.Logger { return newLogger(cfg, logOut) },
			as[ports.Clock](func() clock.System { return clock.System{} }),
			as[ports.IDs](func() clock.UUIDv7 { return clock.UUIDv7{} }),
			newDatabase,
			as[ports.Transactor](sqlstore.NewTransactor),
			fx.Annotate(sqlstore.NewOutbox, fx.As(new(ports.Events)), fx.As(new(ports.Outbox))),
			newListenerConfig,
			newRevocations,
			as[ports.Revocations](func(r *sqlstore.Revocations) *sqlstore.Revocations { return r }),
			newKeyring,
			newTokenIssuer,
			as[ports.AccessVerifier](func(i *tokens.Issuer) *tokens.Issuer { return i }),
			httpapi.NewBearer,
			newReadiness,
			newRateLimiter,
			newMetrics,
			newGuard,
			route(newOpsRoutes),
			route(httpapi.NewDocsRoutes),
			fx.Annotate(newEngine, fx.ParamTags(``, ``, ``, ``, `group:"routes"`)),
			newServer,
		),
		fx.Invoke(serveMetrics),
	)
}

func newLogger(cfg Config, out io.Writer) *slog.Logger {
	if out == nil {
		out = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(out, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(httpapi.WithRequestID(h))
}

// newDatabase opens the store DATABASE_URL names and provides it both as GORM
// (for the stores) and as its *sql.DB pool (for pings and pool metrics). On
// start it pings and, if configured, migrates; on stop it closes the pool.
//
// The pool's connections carry DB_QUERY_TIMEOUT as server-side statement,
// lock and idle-transaction timeouts, which suit requests but not a
// migration (an index build may rightly take minutes), so migrations run on
// a pool of their own, opened without them and closed afterwards.
func newDatabase(lc fx.Lifecycle, cfg Config, log *slog.Logger) (*gorm.DB, *sql.DB, error) {
	db, dialect, err := sqlstore.Open(context.Background(), sqlstore.Options{
		DatabaseURL:     cfg.DatabaseURL,
		DataDir:         cfg.DataDir,
		MaxOpenConns:    cfg.DBMaxOpenConns,
		MaxIdleConns:    cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLifetime,
		QueryTimeout:    cfg.DBQueryTimeout,
		Logger:          log,
	})
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := sqlDB.PingContext(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			if cfg.MigrateOnStart {
				if err := migrateUp(ctx, sqlstore.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: 1, Logger: log}); err != nil {
					return fmt.Errorf("migrate: %w", err)
				}
			}
			log.Info("database ready", "dialect", string(dialect))
			return nil
		},
		OnStop: func(context.Context) error { return sqlDB.Close() },
	})
	return db, sqlDB, nil
}

// migrateUp applies pending migrations on a pool of its own, opened with o.
func migrateUp(ctx context.Context, o sqlstore.Options) error {
	db, dialect, err := sqlstore.Open(ctx, o)
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	return sqlstore.Migrate(ctx, sqlDB, dialect, "up")
}

// newKeyring loads the configured signing keys, or outside production makes
// (once) and reuses a development key in DATA_DIR.
func newKeyring(cfg Config, log *slog.Logger) (*tokens.Keyring, error) {
	paths := cfg.SigningKeyFiles
	if len(paths) == 0 {
		if cfg.Environment == "production" {
			return nil, errors.New("SIGNING_KEY_FILES must be set when APP_ENV=production")
		}
		path, created, err := tokens.EnsureDevKey(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("development signing key: %w", err)
		}
		if created {
			log.Warn("generated a development signing key; set SIGNING_KEY_FILES in production", "path", path)
		}
		paths = []string{path}
	}
	return tokens.LoadKeys(paths)
}

func newTokenIssuer(keys *tokens.Keyring, clk ports.Clock, cfg Config) *tokens.Issuer {
	return tokens.NewIssuer(keys, clk, tokens.Options{
		Issuer:    cfg.TokenIssuer,
		Audience:  cfg.TokenAudience,
		AccessTTL: cfg.AccessTokenTTL,
		Leeway:    cfg.TokenLeeway,
	})
}

// newListenerConfig is the connection of the revocation listener on
// PostgreSQL; nil on SQLite, which has no notifications.
func newListenerConfig(cfg Config) (*pgx.ConnConfig, error) {
	if cfg.DatabaseURL == "" {
		return nil, nil
	}
	return sqlstore.ListenerConfig(cfg.DatabaseURL)
}

// newRevocations builds the sessions' revocations and, on PostgreSQL, runs
// their listener from start to stop.
func newRevocations(lc fx.Lifecycle, db *gorm.DB, cfg Config, clk ports.Clock, log *slog.Logger, listener *pgx.ConnConfig) *sqlstore.Revocations {
	rev := sqlstore.NewRevocations(db, sqlstore.RevocationOptions{
		Horizon: cfg.AccessTokenTTL + cfg.TokenLeeway,
		Clock:   clk.Now,
		Logger:  log,
	})
	if listener == nil {
		return rev
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); rev.Listen(ctx, listener) }()
			return nil
		},
		OnStop: func(context.Context) error { stop(); <-done; return nil },
	})
	return rev
}

// readinessTimeout bounds /readyz's database ping, so that a stalled
// database makes the probe fail quickly rather than at DB_QUERY_TIMEOUT.
const readinessTimeout = time.Second

func newReadiness(sqlDB *sql.DB) *httpapi.Readiness {
	return httpapi.NewReadiness(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
		defer cancel()
		return sqlDB.PingContext(ctx)
	})
}

func newOpsRoutes(ready *httpapi.Readiness, keys *tokens.Keyring) *httpapi.OpsRoutes {
	return httpapi.NewOpsRoutes(ready, keys.JWKS())
}

func newEngine(cfg Config, log *slog.Logger, guard *httpapi.Guard, metrics *httpapi.Metrics, routes []httpapi.Routes) (http.Handler, error) {
	if cfg.MetricsAddr == "" {
		routes = append(routes, httpapi.NewMetricsRoutes(metrics))
	}
	return httpapi.NewEngine(httpapi.EngineSettings{
		TrustedProxies:     cfg.TrustedProxies,
		MaxHeaderBytes:     cfg.MaxHeaderBytes,
		DependencyDeadline: cfg.DBQueryTimeout,
	}, log, guard, metrics, routes)
}

// newMetrics builds the service's registry: HTTP, hashing and abuse metrics,
// the database pool, and Go runtime and process metrics.
func newMetrics(sqlDB *sql.DB) *httpapi.Metrics {
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(sqlDB, "usersvc"),
	)
	return httpapi.NewMetrics(registry)
}

// serveMetrics serves /metrics on METRICS_ADDR when it is set, so metrics
// can be kept off the public listener.
func serveMetrics(lc fx.Lifecycle, cfg Config, metrics *httpapi.Metrics, log *slog.Logger) {
	if cfg.MetricsAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	srv := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.MetricsAddr)
			if err != nil {
				return fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
			}
			log.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics")
			go func() { _ = srv.Serve(ln) }()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}

// newRateLimiter builds the limiter RATE_LIMIT_STORE names, or none when
// RATE_LIMITS=off.
func newRateLimiter(lc fx.Lifecycle, cfg Config, clk ports.Clock) (ports.RateLimiter, error) {
	if !cfg.RateLimits {
		return nil, nil
	}
	if cfg.RateLimitStore == "redis" {
		r, err := ratelimit.NewRedisFromURL(cfg.RedisURL, "usersvc:rl:")
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		lc.Append(fx.StopHook(r.Close))
		return r, nil
	}
	return ratelimit.NewMemory(clk.Now), nil
}

func newGuard(cfg Config, limiter ports.RateLimiter, metrics *httpapi.Metrics) *httpapi.Guard {
	limits := httpapi.Limits{
		SignUpPerIP:         cfg.LimitSignUpPerIP,
		LogInPerIP:          cfg.LimitLogInPerIP,
		RefreshPerIP:        cfg.LimitRefreshPerIP,
		FailedLogInsPerUser: cfg.LimitFailedLogIns,
	}
	if !cfg.RateLimits {
		limits = httpapi.Limits{}
	}
	return httpapi.NewGuard(limiter, limits, cfg.CORSOrigins, metrics)
}

// serverMaxHeaderBytes is the HTTP server's hard cut-off for a request's
// header block: the engine refuses more than HTTP_MAX_HEADER_BYTES with a 431
// problem; beyond this, net/http answers 431 itself and closes the connection.
const serverMaxHeaderBytes = 1 << 20

// newServer builds the HTTP server. OnStart listens and serves in a
// goroutine; OnStop marks the instance not ready and ends keep-alive (each
// connection closes after its next answer), keeps serving for
// SHUTDOWN_DRAIN_DELAY, then lets in-flight requests finish within
// SHUTDOWN_GRACE.
func newServer(lc fx.Lifecycle, cfg Config, handler http.Handler, ready *httpapi.Readiness, log *slog.Logger) *http.Server {
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           ready.DrainKeepAlives(handler),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes,
		ConnState:         httpapi.TrackConnState,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.HTTPAddr)
			if err != nil {
				return fmt.Errorf("listen on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
			}
			log.Info("listening", "addr", "http://"+ln.Addr().String())
			go func() {
				if err := srv.Serve(httpapi.NewListener(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("server stopped", "err", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			ready.Drain()
			log.Info("shutting down", "drain_delay", cfg.ShutdownDrainDelay.String(), "grace", cfg.ShutdownGrace.String())
			select { // keep serving while load balancers see /readyz fail
			case <-time.After(cfg.ShutdownDrainDelay):
			case <-ctx.Done():
			}
			ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownGrace)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	})
	return srv
}

// as provides ctor's result as the port P as well.
func as[P any](ctor any) any { return fx.Annotate(ctor, fx.As(new(P))) }

// route provides ctor's result as one of the engine's httpapi.Routes.
func route(ctor any) any {
	return fx.Annotate(ctor, fx.As(new(httpapi.Routes)), fx.ResultTags(`group:"routes"`))
}
