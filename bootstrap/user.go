package bootstrap

import (
	"context"

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

// User wires the user context: its stores, password hashing, its use cases
// and its routes. The stores work on whichever *gorm.DB Platform opened
// (PostgreSQL or SQLite); tests swap in memory stores with fx.Decorate.
func User() fx.Option {
	return fx.Module("user",
		fx.Provide(
			as[userports.Users](sqlstore.NewUsers),
			as[userports.Sessions](sqlstore.NewSessions),
			as[userports.Tokens](func(i *tokens.Issuer) *tokens.Issuer { return i }),
			as[userports.PasswordHasher](newHasher),
			newPasswordPolicy,
			newUserUseCases,
			route(newUserRoutes),
		),
	)
}

func newUserUseCases(users userports.Users, sessions userports.Sessions, tx ports.Transactor, hasher userports.PasswordHasher,
	tokens userports.Tokens, clk ports.Clock, ids ports.IDs, cfg Config) (*userapp.UseCases, error) {
	return userapp.NewUseCases(context.Background(), userapp.Deps{
		Users: users, Sessions: sessions, Tx: tx, Hasher: hasher, Tokens: tokens, Clock: clk, IDs: ids,
		Settings: userapp.Settings{
			AccessTTL:     cfg.AccessTokenTTL,
			RefreshTTL:    cfg.RefreshTokenTTL,
			SessionMaxAge: cfg.SessionMaxAge,
			ReuseGrace:    cfg.RefreshReuseGrace,
		},
	})
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
