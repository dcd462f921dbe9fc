package bootstrap

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	osuser "os/user"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"example.com/usersvc/adapters/sqlstore"
	"example.com/usersvc/adapters/tokens"
	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

const adminUsage = `usersvc admin: operators' commands, run in-process against the configured
database (DATABASE_URL, or the SQLite file in DATA_DIR).

Usage:
  usersvc admin users list [--limit N] [--cursor C] [--prefix P] [--state active|disabled] [--json]
  usersvc admin users show NAME|ID [--json]
  usersvc admin users disable NAME|ID [--reason TEXT] [--json]
  usersvc admin users enable NAME|ID [--json]
  usersvc admin users logout NAME|ID [--json]
  usersvc admin users delete NAME|ID [--yes] [--json]
  usersvc admin users import FILE [--format csv|jsonl] [--batch N] [--json]
  usersvc admin users export [--out FILE] [--with-hashes]
  usersvc admin keys generate FILE [--force] [--json]

Each subcommand takes --help. Every act writes an audit line to standard
error and records its events with the change. Exit codes: 0 ok, 1 failed
(an unknown user, a refused import row, the database), 2 wrong arguments.
`

// adminCmd is one admin subcommand: its flags, what it does, and whether it
// needs the database.
type adminCmd struct {
	name    string // "users list"
	args    string // the positional arguments, for the usage line
	summary string
	flags   func(fs *flag.FlagSet)
	// nargs is how many positional arguments it takes.
	nargs int
	// run does the work; a is nil for commands that need no database.
	run  func(a *adminEnv, args []string) int
	nodb bool
}

// adminFlags are the flags subcommands share.
type adminFlags struct {
	json bool
}

// adminEnv is what a subcommand runs with.
type adminEnv struct {
	ctx    context.Context
	uc     *userapp.UseCases
	log    *slog.Logger
	actor  string
	in     *bufio.Reader
	out    io.Writer
	errOut io.Writer
	json   bool
}

// runAdmin runs "usersvc admin ARGS".
func runAdmin(args []string, cfg Config, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		fmt.Fprint(w, adminUsage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if len(args) < 2 {
		fmt.Fprintf(stderr, "usersvc admin: %q needs a subcommand; see usersvc admin --help\n", args[0])
		return ExitUsage
	}
	var cmd *adminCmd
	for _, c := range adminCommands() {
		if c.name == args[0]+" "+args[1] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "usersvc admin: unknown command %q; see usersvc admin --help\n", args[0]+" "+args[1])
		return ExitUsage
	}
	fs := flag.NewFlagSet("usersvc admin "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	shared := &adminFlags{}
	if cmd.name != "users export" {
		fs.BoolVar(&shared.json, "json", false, "print JSON instead of a table")
	}
	cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: usersvc admin %s %s\n\n%s\n\nFlags:\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args[2:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return ExitOK
	}
	if err != nil {
		return ExitUsage // flag has printed the problem and the usage
	}
	if len(pos) != cmd.nargs {
		fmt.Fprintf(stderr, "usersvc admin %s: takes %s; see --help\n", cmd.name, argsWord(cmd))
		return ExitUsage
	}
	a := &adminEnv{ctx: context.Background(), actor: osActor(), in: bufio.NewReader(stdin), out: stdout, errOut: stderr, json: shared.json}
	if cmd.nodb {
		a.log = newLogger(cfg, stderr)
		return cmd.run(a, pos)
	}
	closeDB, err := a.open(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "usersvc admin:", err)
		return ExitFailed
	}
	defer closeDB()
	return cmd.run(a, pos)
}

func argsWord(c *adminCmd) string {
	if c.nargs == 0 {
		return "no arguments"
	}
	return "exactly " + c.args
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments ("show alice --json" as well as "show --json alice"), which
// package flag alone does not, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// open builds the user context in-process from the same fx modules as the
// service, without starting anything (no listener, no clean-up, no
// listener of revocations), pings the database and, with MIGRATE_ON_START,
// migrates it as serve would. The admin commands issue no tokens, so the
// signing keys are neither loaded nor generated.
func (a *adminEnv) open(cfg Config, stderr io.Writer) (closeDB func(), err error) {
	var sqlDB *sql.DB
	app := fx.New(
		Platform(cfg, stderr),
		User(),
		fx.Decorate(func() userports.Tokens { return noTokens{} }),
		fx.Populate(&a.uc, &a.log, &sqlDB),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
	if err := app.Err(); err != nil {
		return nil, fmt.Errorf("cannot build: %w", err)
	}
	closeDB = func() { _ = sqlDB.Close() }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		closeDB()
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	if cfg.MigrateOnStart {
		if err := migrateUp(ctx, sqlstore.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: 1, Logger: a.log}); err != nil {
			closeDB()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return closeDB, nil
}

// noTokens stands in for the token issuer in admin commands, which start
// no session.
type noTokens struct{}

var errNoTokens = errors.New("bootstrap: admin commands issue no tokens")

func (noTokens) IssueAccess(ports.AccessClaims) (string, error)       { return "", errNoTokens }
func (noTokens) IssueRefresh(userports.RefreshClaims) (string, error) { return "", errNoTokens }
func (noTokens) VerifyRefresh(string) (userports.RefreshClaims, error) {
	return userports.RefreshClaims{}, errNoTokens
}

// osActor is who runs the command: the OS account, else $USER.
func osActor() string {
	if u, err := osuser.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// audit writes the audit line of one admin act, in the service's audit
// vocabulary (msg "audit", event, outcome), with the actor and via=admin.
// Callers pass ids and counts only, never a secret.
func (a *adminEnv) audit(event, outcome string, attrs ...any) {
	base := []any{slog.String("event", event), slog.String("outcome", outcome), slog.String("via", "admin"), slog.String("actor", a.actor)}
	a.log.Info("audit", append(base, attrs...)...)
}

// fail reports err of a subcommand and returns its exit code: 2 for a
// malformed query, 1 for anything else (an unknown user, the database).
func (a *adminEnv) fail(what string, err error) int {
	switch {
	case errors.Is(err, user.ErrNotFound):
		fmt.Fprintf(a.errOut, "usersvc admin: %s: no such user (%v)\n", what, err)
		return ExitFailed
	case errors.Is(err, userapp.ErrInvalidQuery):
		fmt.Fprintf(a.errOut, "usersvc admin: %s: %v\n", what, err)
		return ExitUsage
	}
	fmt.Fprintf(a.errOut, "usersvc admin: %s failed: %v\n", what, err)
	return ExitFailed
}

// printJSON writes v as one indented JSON document.
func (a *adminEnv) printJSON(v any) {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// table writes rows as columns aligned with spaces.
func (a *adminEnv) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// adminTime is how admin output shows an instant: RFC 3339 in UTC, "-"
// for none.
func adminTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// jsonTime is an instant for JSON output: null for none.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func adminKeysGenerate() adminCmd {
	var force bool
	return adminCmd{
		name: "keys generate", args: "FILE", nargs: 1, nodb: true,
		summary: "Write a new Ed25519 signing key to FILE as PKCS#8 PEM, mode 0600, in the format\n" +
			"SIGNING_KEY_FILES reads. An existing FILE is left alone unless --force.",
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&force, "force", false, "replace FILE if it exists") },
		run: func(a *adminEnv, args []string) int {
			kid, err := tokens.GenerateKeyFile(args[0], force)
			if errors.Is(err, tokens.ErrKeyFileExists) {
				fmt.Fprintf(a.errOut, "usersvc admin keys generate: %s exists; pass --force to replace it\n", args[0])
				return ExitFailed
			}
			if err != nil {
				fmt.Fprintln(a.errOut, "usersvc admin keys generate:", err)
				return ExitFailed
			}
			// The file must load as the service loads its keys.
			if _, err := tokens.LoadKeys([]string{args[0]}); err != nil {
				fmt.Fprintln(a.errOut, "usersvc admin keys generate: the written key does not load:", err)
				return ExitFailed
			}
			a.audit("signing_key_generated", "success", "kid", kid, "path", args[0])
			if a.json {
				a.printJSON(map[string]string{"path": args[0], "kid": kid, "alg": "EdDSA"})
				return ExitOK
			}
			fmt.Fprintf(a.out, "wrote a new Ed25519 signing key to %s (mode 0600), kid %s\n", args[0], kid)
			fmt.Fprintln(a.out, "add it to SIGNING_KEY_FILES (newest last signs) and restart")
			return ExitOK
		},
	}
}
