package bootstrap

import (
	"io"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"net/http"
)

// App is the whole service. A new bounded context adds one module here.
// logOut receives the service's logs (nil: standard error).
func App(cfg Config, logOut io.Writer) fx.Option {
	return fx.Options(
		Platform(cfg, logOut),
		User(),
		Chat(),
		Events(),
		fx.Invoke(func(*http.Server) {}),
		fx.StartTimeout(30*time.Second),
		fx.StopTimeout(cfg.ShutdownDrainDelay+cfg.ShutdownGrace+5*time.Second),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
}
