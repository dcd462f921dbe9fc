package bootstrap

import (
	"context"

	"go.uber.org/fx"
	"gorm.io/gorm"

	"example.com/usersvc/adapters/httpapi"
	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// User wires the user context: its stores, its use cases and its routes. The
// stores work on whichever *gorm.DB Platform opened (PostgreSQL or SQLite);
// tests swap in memory stores with fx.Decorate.
func User() fx.Option {
	return fx.Module("user",
		fx.Provide(
			as[ports.Users](func(db *gorm.DB) *sqlstore.Users { return sqlstore.NewUsers(db) }),
			as[ports.Sessions](func(db *gorm.DB) *sqlstore.Sessions { return sqlstore.NewSessions(db) }),
			userSettings,
			userapp.NewSessionIssuer,
			userapp.NewSignUp,
			newLogIn,
			userapp.NewRefresh,
			userapp.NewLogOut,
			userapp.NewAuthenticate,
			userapp.NewProfile,
			userapp.NewReplaceProfile,
			userapp.NewPatchProfile,
			userapp.NewDeleteAccount,
			route(newUserRoutes),
		),
	)
}

func userSettings(cfg Config) userapp.Settings {
	return userapp.Settings{
		AccessTTL:     cfg.AccessTokenTTL,
		RefreshTTL:    cfg.RefreshTokenTTL,
		SessionMaxAge: cfg.SessionMaxAge,
		ReuseGrace:    cfg.RefreshReuseGrace,
	}
}

func newLogIn(users ports.Users, tx ports.Transactor, hasher ports.PasswordHasher, clk ports.Clock, issue *userapp.SessionIssuer) (*userapp.LogIn, error) {
	return userapp.NewLogIn(context.Background(), users, tx, hasher, clk, issue)
}

type userUseCases struct {
	fx.In
	SignUp         *userapp.SignUp
	LogIn          *userapp.LogIn
	Refresh        *userapp.Refresh
	LogOut         *userapp.LogOut
	Authenticate   *userapp.Authenticate
	Profile        *userapp.Profile
	ReplaceProfile *userapp.ReplaceProfile
	PatchProfile   *userapp.PatchProfile
	DeleteAccount  *userapp.DeleteAccount
}

func newUserRoutes(uc userUseCases, policy user.PasswordPolicy, cfg Config, guard *httpapi.Guard) *httpapi.UserRoutes {
	return httpapi.NewUserRoutes(httpapi.UserUseCases{
		SignUp:         uc.SignUp,
		LogIn:          uc.LogIn,
		Refresh:        uc.Refresh,
		LogOut:         uc.LogOut,
		Authenticate:   uc.Authenticate,
		Profile:        uc.Profile,
		ReplaceProfile: uc.ReplaceProfile,
		PatchProfile:   uc.PatchProfile,
		DeleteAccount:  uc.DeleteAccount,
	}, policy, httpapi.CookieSettings{Secure: cfg.CookieSecure}, guard)
}
