package bootstrap

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"go.uber.org/fx"

	"example.com/usersvc/adapters/sqlstore"
)

// Exit codes of the command line.
const (
	ExitOK     = 0
	ExitFailed = 1 // the service or command failed at run time
	ExitUsage  = 2 // wrong arguments or configuration
)

const usage = `usersvc: the user-management service.

Usage:
  usersvc [serve]                 start the HTTP service (default)
  usersvc migrate up|down|status  apply, roll back one, or list migrations
  usersvc admin users|keys ...    operators' commands: list, show, disable, enable, log out,
                                  delete, import and export users; generate a signing key
                                  (usersvc admin --help)
  usersvc version                 print the module version and commit
  usersvc help | --help | -h      print this help

Environment variables:
`

// Main runs the command line with args (without the program name), reading
// settings through lookup, and returns the process exit code.
func Main(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	return Run(args, lookup, os.Stdin, stdout, stderr)
}

// Run is Main reading what a command asks for (the confirmation of admin
// users delete) from stdin.
func Run(args []string, lookup func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "help", "--help", "-h":
		printHelp(stdout)
		return ExitOK
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return ExitOK
	case "serve", "migrate", "admin":
	default:
		fmt.Fprintf(stderr, "usersvc: unknown command %q; see usersvc --help\n", cmd)
		return ExitUsage
	}
	cfg, err := Load(lookup)
	if err != nil {
		fmt.Fprintln(stderr, "usersvc:", err)
		return ExitUsage
	}
	switch cmd {
	case "migrate":
		return migrate(args[1:], cfg, stdout, stderr)
	case "admin":
		return runAdmin(args[1:], cfg, stdin, stdout, stderr)
	}
	tuneGC(cfg, lookup)
	return serve(cfg, stderr)
}

// tuneGC sets the garbage collector of the serving process: GC_PERCENT as
// its target and Config.MemoryLimit as its soft limit, unless GOGC or
// GOMEMLIMIT in the environment already set them. A target above Go's
// default 100 collects less often on the request paths (a refresh
// allocates about 30 kB, at thousands a second: at 400 its CPU per request
// is about 9 % lower in BenchmarkRefreshParallel), while the limit keeps the
// heap bounded when argon2id's 19 MiB allocations make it grow faster than
// the target alone would collect.
func tuneGC(cfg Config, lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if _, set := lookup("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(cfg.MemoryLimit())
	}
}

func serve(cfg Config, stderr io.Writer) int {
	app := fx.New(App(cfg, stderr))
	if err := app.Err(); err != nil {
		fmt.Fprintln(stderr, "usersvc: cannot build the service:", err)
		return ExitFailed
	}
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintln(stderr, "usersvc: cannot start:", err)
		return ExitFailed
	}
	// Start-up work leaves garbage the idle process would otherwise keep
	// resident for minutes (the decoy password hash alone is 19 MiB of
	// argon2 memory): collect it and hand the pages back now.
	debug.FreeOSMemory()
	<-app.Done() // SIGINT or SIGTERM
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintln(stderr, "usersvc: unclean shutdown:", err)
		return ExitFailed
	}
	return ExitOK
}

func migrate(args []string, cfg Config, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		fmt.Fprintln(stderr, "usersvc: migrate takes one of up, down, status")
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, dialect, err := sqlstore.Open(ctx, sqlstore.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: 1})
	if err != nil {
		fmt.Fprintln(stderr, "usersvc: open database:", err)
		return ExitFailed
	}
	sqlDB, err := db.DB()
	if err != nil {
		fmt.Fprintln(stderr, "usersvc: open database:", err)
		return ExitFailed
	}
	defer sqlDB.Close()
	if args[0] == "status" {
		status, err := sqlstore.MigrationStatus(ctx, sqlDB, dialect)
		if err != nil {
			fmt.Fprintln(stderr, "usersvc: migration status:", err)
			return ExitFailed
		}
		fmt.Fprint(stdout, status)
		return ExitOK
	}
	if err := sqlstore.Migrate(ctx, sqlDB, dialect, args[0]); err != nil {
		fmt.Fprintln(stderr, "usersvc: migrate", args[0]+":", err)
		return ExitFailed
	}
	fmt.Fprintf(stdout, "migrate %s: done (%s)\n", args[0], dialect)
	return ExitOK
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, usage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.name, def, s.help)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nExit codes: 0 ok, 1 failure at run time, 2 wrong arguments or configuration.")
}

func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "usersvc (unknown version)"
	}
	version, commit, dirty := info.Main.Version, "unknown", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	return fmt.Sprintf("usersvc %s commit %s%s %s", version, commit, dirty, info.GoVersion)
}
