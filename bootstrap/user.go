package bootstrap

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/passwords"
	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// User wires the user context: its stores, password hashing, its use cases,
// its routes and the periodic clean-up of ended sessions. The stores work on
// whichever *gorm.DB Platform opened (PostgreSQL or SQLite), and the use
// cases record their events with the platform's ports.Events; tests swap in
// memory stores with fx.Decorate.
func User() fx.Option {
	return fx.Module("user",
		fx.Provide(
			as[userports.Users](sqlstore.NewUsers),
			as[userports.Sessions](sqlstore.NewSessions),
			as[userports.Tokens](func(i *tokens.Issuer) *tokens.Issuer { return i }),
			fx.Annotate(newHasher, fx.As(new(userports.PasswordHasher)), fx.As(new(userports.HashChecker))),
			newPasswordPolicy,
			newUserUseCases,
			route(newUserRoutes),
		),
		fx.Invoke(runSessionCleanUp),
	)
}

func newUserUseCases(users userports.Users, sessions userports.Sessions, tx ports.Transactor, hasher userports.PasswordHasher,
	checker userports.HashChecker, tokens userports.Tokens, clk ports.Clock, ids ports.IDs, events ports.Events, cfg Config) (*userapp.UseCases, error) {
	return userapp.NewUseCases(context.Background(), userapp.Deps{
		Users: users, Sessions: sessions, Tx: tx, Hasher: hasher, HashChecker: checker, Tokens: tokens, Clock: clk, IDs: ids, Events: events,
		Settings: userapp.Settings{
			AccessTTL:       cfg.AccessTokenTTL,
			RefreshTTL:      cfg.RefreshTokenTTL,
			SessionMaxAge:   cfg.SessionMaxAge,
			ReuseGrace:      cfg.RefreshReuseGrace,
			SessionsPerUser: cfg.SessionsPerUser,
			// No access or refresh token outlives its lifetime (plus the
			// verifiers' leeway) after the session's end.
			EndedSessionRetention: max(cfg.AccessTokenTTL, cfg.RefreshTokenTTL) + cfg.TokenLeeway,
			CleanUpBatchTimeout:   cfg.DBQueryTimeout,
		},
	})
}

// runSessionCleanUp removes ended sessions every SESSION_CLEANUP_INTERVAL
// (none when it is 0), from start to stop, in a goroutine of its own; stop
// waits for a run in progress to end. Several instances may run it at once.
func runSessionCleanUp(lc fx.Lifecycle, cfg Config, uc *userapp.UseCases, log *slog.Logger) {
	if cfg.SessionCleanupInterval <= 0 {
		return
	}
	runInBackground(lc, func(ctx context.Context) {
		sweepEvery(ctx, cfg.SessionCleanupInterval, uc.CleanUpSessions.Do, log, sweepLog{
			count: "removed", failed: "session clean-up failed; the next run tries again", done: "ended sessions removed",
		})
	})
}

// runInBackground runs loop in a goroutine of its own from start to stop:
// stop cancels loop's context and waits for it to return, so a run in
// progress ends before the database closes.
func runInBackground(lc fx.Lifecycle, loop func(ctx context.Context)) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); loop(ctx) }()
			return nil
		},
		OnStop: func(context.Context) error { stop(); <-done; return nil },
	})
}

// sweepLog names what sweepEvery logs: the count's key, and the messages
// of a failed run and of a run that removed something.
type sweepLog struct{ count, failed, done string }

// sweepEvery runs sweep every interval until ctx ends. A failed run is
// logged and the next one tries again; a run cut short by the stop is not
// a failure.
func sweepEvery(ctx context.Context, interval time.Duration, sweep func(context.Context) (int, error), log *slog.Logger, l sweepLog) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := sweep(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			log.Warn(l.failed, l.count, n, "err", err.Error())
		case n > 0:
			log.Info(l.done, l.count, n)
		}
	}
}

func newUserRoutes(uc *userapp.UseCases, bearer *httpapi.Bearer, policy user.PasswordPolicy, cfg Config, guard *httpapi.Guard) *httpapi.UserRoutes {
	return httpapi.NewUserRoutes(uc, bearer, policy, httpapi.CookieSettings{Secure: cfg.CookieSecure}, guard)
}

func newHasher(cfg Config, metrics *httpapi.Metrics) (*passwords.Hasher, error) {
	p := passwords.Params{
		Memory:        cfg.Argon2MemoryKiB,
		Time:          cfg.Argon2Time,
		Threads:       cfg.Argon2Threads,
		MaxConcurrent: cfg.HashMaxConcurrent,
		QueueWait:     cfg.HashQueueWait,
		Observer:      metrics,
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return passwords.NewHasher(p), nil
}

func newPasswordPolicy(cfg Config) user.PasswordPolicy {
	if cfg.PasswordPolicy == "nist" {
		return user.NISTPolicy(passwords.NormalizeNFKC, passwords.IsCommon)
	}
	return user.ContractPolicy(passwords.IsCommon)
}
