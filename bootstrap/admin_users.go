package bootstrap

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"example.com/usersvc/application/userapp"
	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports/userports"
)

// adminCommands are every admin subcommand, in the order --help lists them.
func adminCommands() []adminCmd {
	return []adminCmd{
		adminUsersList(), adminUsersShow(), adminUsersDisable(), adminUsersEnable(),
		adminUsersLogout(), adminUsersDelete(), adminUsersImport(), adminUsersExport(),
		adminKeysGenerate(),
	}
}

// userJSON is a user as admin commands print it: never its hash.
type userJSON struct {
	ID             string     `json:"id"`
	Username       string     `json:"username"`
	FullName       *string    `json:"full_name"`
	State          string     `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason *string    `json:"disabled_reason"`
	LastLoginAt    *time.Time `json:"last_login_at"`
}

func stateOf(u *user.User) string {
	if u.Disabled() {
		return "disabled"
	}
	return "active"
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toUserJSON(u *user.User, lastLogin time.Time) userJSON {
	d := u.Disablement()
	return userJSON{
		ID: u.ID().String(), Username: u.Username().String(), FullName: optional(u.FullName().String()),
		State: stateOf(u), CreatedAt: u.CreatedAt().UTC(), UpdatedAt: u.UpdatedAt().UTC(),
		DisabledAt: jsonTime(d.At), DisabledReason: optional(d.Reason.String()), LastLoginAt: jsonTime(lastLogin),
	}
}

const lastLoginNote = "last login: the latest session start (signup or login) still kept; ended sessions are removed after their retention"

func adminUsersList() adminCmd {
	var limit int
	var cursor, prefix, state string
	return adminCmd{
		name: "users list", args: "", nargs: 0,
		summary: "List users by username (ignoring case), a page at a time: id, username, state,\n" +
			"created, last login. The next page's --cursor is printed after the table.\n" + lastLoginNote + ".",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&limit, "limit", 50, "users per page, 1 to "+strconv.Itoa(userapp.MaxListLimit))
			fs.StringVar(&cursor, "cursor", "", "the cursor a previous page printed")
			fs.StringVar(&prefix, "prefix", "", "only usernames starting with this, ignoring case")
			fs.StringVar(&state, "state", "", "only active or disabled users")
		},
		run: func(a *adminEnv, _ []string) int {
			in := userapp.ListUsersInput{Prefix: prefix, Cursor: cursor, Limit: limit}
			switch state {
			case "":
			case "active":
				in.State = userports.StateActive
			case "disabled":
				in.State = userports.StateDisabled
			default:
				fmt.Fprintf(a.errOut, "usersvc admin users list: --state is active or disabled, not %q\n", state)
				return ExitUsage
			}
			page, err := a.uc.ListUsers.Do(a.ctx, in)
			if err != nil {
				return a.fail("users list", err)
			}
			if a.json {
				items := make([]userJSON, 0, len(page.Items))
				for _, it := range page.Items {
					items = append(items, toUserJSON(it.User, it.LastLogin))
				}
				a.printJSON(map[string]any{"items": items, "next_cursor": optional(page.NextCursor)})
				return ExitOK
			}
			rows := make([][]string, 0, len(page.Items))
			for _, it := range page.Items {
				u := it.User
				rows = append(rows, []string{u.ID().String(), u.Username().String(), stateOf(u), adminTime(u.CreatedAt()), adminTime(it.LastLogin)})
			}
			a.table([]string{"ID", "USERNAME", "STATE", "CREATED", "LAST LOGIN"}, rows)
			if page.NextCursor != "" {
				fmt.Fprintf(a.out, "\nmore: --cursor %s\n", page.NextCursor)
			}
			return ExitOK
		},
	}
}

// sessionJSON is a live session as admin commands print it.
type sessionJSON struct {
	ID         string    `json:"id"`
	Name       *string   `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         *string   `json:"ip"`
	UserAgent  *string   `json:"user_agent"`
}

func adminUsersShow() adminCmd {
	return adminCmd{
		name: "users show", args: "NAME|ID", nargs: 1,
		summary: "Show one user, by username or id, with its live sessions.\n" + lastLoginNote + ".",
		flags:   func(*flag.FlagSet) {},
		run: func(a *adminEnv, args []string) int {
			d, err := a.uc.FindUser.Do(a.ctx, args[0])
			if err != nil {
				return a.fail("users show", err)
			}
			if a.json {
				sessions := make([]sessionJSON, 0, len(d.Sessions))
				for _, s := range d.Sessions {
					sj := sessionJSON{ID: s.ID.String(), Name: optional(s.Name.String()), CreatedAt: s.CreatedAt.UTC(),
						LastUsedAt: s.LastUsedAt.UTC(), ExpiresAt: s.LiveUntil().UTC(), UserAgent: optional(s.Client.UserAgent.String())}
					if s.Client.IP.IsValid() {
						sj.IP = optional(s.Client.IP.String())
					}
					sessions = append(sessions, sj)
				}
				a.printJSON(struct {
					userJSON
					Sessions []sessionJSON `json:"sessions"`
				}{toUserJSON(d.User, d.LastLogin), sessions})
				return ExitOK
			}
			u, dis := d.User, d.User.Disablement()
			fields := [][]string{
				{"id", u.ID().String()}, {"username", u.Username().String()}, {"full name", orDash(u.FullName().String())},
				{"state", stateOf(u)}, {"created", adminTime(u.CreatedAt())}, {"updated", adminTime(u.UpdatedAt())},
			}
			if dis.Disabled() {
				fields = append(fields, []string{"disabled", adminTime(dis.At)}, []string{"reason", orDash(dis.Reason.String())})
			}
			fields = append(fields, []string{"last login", adminTime(d.LastLogin)})
			for _, f := range fields {
				fmt.Fprintf(a.out, "%-11s %s\n", f[0]+":", f[1])
			}
			fmt.Fprintf(a.out, "\nlive sessions: %d\n", len(d.Sessions))
			if len(d.Sessions) > 0 {
				rows := make([][]string, 0, len(d.Sessions))
				for _, s := range d.Sessions {
					ip := "-"
					if s.Client.IP.IsValid() {
						ip = s.Client.IP.String()
					}
					rows = append(rows, []string{s.ID.String(), adminTime(s.CreatedAt), adminTime(s.LastUsedAt), ip,
						orDash(s.Client.UserAgent.String()), orDash(s.Name.String())})
				}
				a.table([]string{"SESSION", "CREATED", "LAST USED", "CLIENT IP", "USER AGENT", "NAME"}, rows)
			}
			return ExitOK
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// actResult is what the acting subcommands print with --json.
type actResult struct {
	Action   string `json:"action"`
	ID       string `json:"id"`
	Username string `json:"username"`
	Changed  bool   `json:"changed"`
	// SessionsRevoked is how many sessions the act ended; absent for a
	// delete, whose count the deletion does not report.
	SessionsRevoked *int `json:"sessions_revoked,omitempty"`
}

func (a *adminEnv) printAct(r actResult, text string) {
	if a.json {
		a.printJSON(r)
		return
	}
	fmt.Fprintln(a.out, text)
}

func adminUsersDisable() adminCmd {
	var reason string
	return adminCmd{
		name: "users disable", args: "NAME|ID", nargs: 1,
		summary: "Disable a user: every session ends at once (session.revoked, account_disabled),\n" +
			"refresh fails with 401, a login with the right password gets 403 \"account is disabled\".",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&reason, "reason", "", "why, for other operators (1 to 200 characters)")
		},
		run: func(a *adminEnv, args []string) int {
			var why user.DisableReason
			if reason != "" {
				var err error
				if why, err = user.ParseDisableReason(reason); err != nil {
					fmt.Fprintf(a.errOut, "usersvc admin users disable: --reason %v\n", err)
					return ExitUsage
				}
			}
			u, err := a.uc.FindUser.Resolve(a.ctx, args[0])
			if err != nil {
				return a.fail("users disable", err)
			}
			res, err := a.uc.DisableUser.Do(a.ctx, u.ID(), why)
			if err != nil {
				a.audit("account_disabled", "failure", "user_id", u.ID().String())
				return a.fail("users disable", err)
			}
			n := len(res.Revoked)
			r := actResult{Action: "disable", ID: u.ID().String(), Username: u.Username().String(), Changed: !res.AlreadyDisabled, SessionsRevoked: &n}
			if res.AlreadyDisabled {
				a.audit("account_disabled", "unchanged", "user_id", r.ID)
				a.printAct(r, fmt.Sprintf("%s (%s) was already disabled; nothing changed", r.Username, r.ID))
				return ExitOK
			}
			a.audit("account_disabled", "success", "user_id", r.ID, "sessions_revoked", n)
			a.printAct(r, fmt.Sprintf("disabled %s (%s); %d session(s) revoked", r.Username, r.ID, n))
			return ExitOK
		},
	}
}

func adminUsersEnable() adminCmd {
	return adminCmd{
		name: "users enable", args: "NAME|ID", nargs: 1,
		summary: "Enable a disabled user again (user.enabled). Its old sessions stay ended: it logs in again.",
		flags:   func(*flag.FlagSet) {},
		run: func(a *adminEnv, args []string) int {
			u, err := a.uc.FindUser.Resolve(a.ctx, args[0])
			if err != nil {
				return a.fail("users enable", err)
			}
			changed, err := a.uc.EnableUser.Do(a.ctx, u.ID())
			if err != nil {
				a.audit("account_enabled", "failure", "user_id", u.ID().String())
				return a.fail("users enable", err)
			}
			r := actResult{Action: "enable", ID: u.ID().String(), Username: u.Username().String(), Changed: changed}
			if !changed {
				a.audit("account_enabled", "unchanged", "user_id", r.ID)
				a.printAct(r, fmt.Sprintf("%s (%s) was not disabled; nothing changed", r.Username, r.ID))
				return ExitOK
			}
			a.audit("account_enabled", "success", "user_id", r.ID)
			a.printAct(r, fmt.Sprintf("enabled %s (%s)", r.Username, r.ID))
			return ExitOK
		},
	}
}

func adminUsersLogout() adminCmd {
	return adminCmd{
		name: "users logout", args: "NAME|ID", nargs: 1,
		summary: "Revoke every session of a user (session.revoked, reason logout); the account stays usable.",
		flags:   func(*flag.FlagSet) {},
		run: func(a *adminEnv, args []string) int {
			u, err := a.uc.FindUser.Resolve(a.ctx, args[0])
			if err != nil {
				return a.fail("users logout", err)
			}
			ended, err := a.uc.LogOutUser.Do(a.ctx, u.ID())
			if err != nil {
				a.audit("all_sessions_revoked", "failure", "user_id", u.ID().String())
				return a.fail("users logout", err)
			}
			r := actResult{Action: "logout", ID: u.ID().String(), Username: u.Username().String(), Changed: len(ended) > 0, SessionsRevoked: new(len(ended))}
			a.audit("all_sessions_revoked", "success", "user_id", r.ID, "sessions_revoked", len(ended))
			a.printAct(r, fmt.Sprintf("logged %s (%s) out: %d session(s) revoked", r.Username, r.ID, len(ended)))
			return ExitOK
		},
	}
}

func adminUsersDelete() adminCmd {
	var yes bool
	return adminCmd{
		name: "users delete", args: "NAME|ID", nargs: 1,
		summary: "Delete a user as account deletion does (session.revoked account_deleted, user.deleted;\n" +
			"its chats go too). Asks to type the username unless --yes.",
		flags: func(fs *flag.FlagSet) { fs.BoolVar(&yes, "yes", false, "do not ask for confirmation") },
		run: func(a *adminEnv, args []string) int {
			u, err := a.uc.FindUser.Resolve(a.ctx, args[0])
			if err != nil {
				return a.fail("users delete", err)
			}
			if !yes {
				fmt.Fprintf(a.errOut, "this deletes %s (%s) and everything it owns. Type the username to confirm: ", u.Username(), u.ID())
				line, _ := a.in.ReadString('\n')
				fmt.Fprintln(a.errOut) // the answer may lack its newline (end of input)
				if strings.TrimSpace(line) != u.Username().String() {
					fmt.Fprintln(a.errOut, "usersvc admin users delete: not confirmed; nothing deleted")
					return ExitFailed
				}
			}
			if err := a.uc.DeleteUser.Do(a.ctx, u.ID()); err != nil {
				a.audit("account_deleted", "failure", "user_id", u.ID().String())
				return a.fail("users delete", err)
			}
			r := actResult{Action: "delete", ID: u.ID().String(), Username: u.Username().String(), Changed: true}
			a.audit("account_deleted", "success", "user_id", r.ID)
			a.printAct(r, fmt.Sprintf("deleted %s (%s)", r.Username, r.ID))
			return ExitOK
		},
	}
}

func adminUsersImport() adminCmd {
	var format string
	var batch int
	return adminCmd{
		name: "users import", args: "FILE", nargs: 1,
		summary: "Import users from CSV (a header row naming id, username, password_hash, full_name,\n" +
			"created_at; hashed_password is read as password_hash) or JSON lines with those keys.\n" +
			"Hashes are bcrypt ($2a$/$2b$/$2y$, cost <= 16) or argon2id within the planted-hash bounds;\n" +
			"bcrypt is replaced by argon2id at each user's first login. Every row is checked by the\n" +
			"service's rules; refused rows are reported with their line and reason, accepted ones\n" +
			"committed --batch at a time, each with its user.created event. Running it twice is safe:\n" +
			"a row whose id already holds its username is skipped. Exit 1 when any row was refused.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&format, "format", "", "csv or jsonl (default: by the file's extension, else by its first byte)")
			fs.IntVar(&batch, "batch", userapp.DefaultImportBatch, "rows per transaction")
		},
		run: func(a *adminEnv, args []string) int {
			if batch < 1 {
				fmt.Fprintln(a.errOut, "usersvc admin users import: --batch must be at least 1")
				return ExitUsage
			}
			f, err := os.Open(args[0])
			if err != nil {
				fmt.Fprintln(a.errOut, "usersvc admin users import:", err)
				return ExitFailed
			}
			defer f.Close()
			dec, err := newImportDecoder(f, args[0], format)
			if err != nil {
				fmt.Fprintln(a.errOut, "usersvc admin users import:", err)
				if errors.Is(err, errImportFormat) {
					return ExitUsage
				}
				return ExitFailed
			}
			rep, err := a.uc.ImportUsers.Do(a.ctx, dec.records(), batch)
			if err == nil {
				err = dec.err
			}
			outcome := "success"
			if err != nil {
				outcome = "failure"
			}
			a.audit("users_imported", outcome, "file", args[0], "imported", rep.Imported, "skipped", rep.Skipped, "refused", rep.Refused)
			if a.json {
				if rep.Rows == nil {
					rep.Rows = []userapp.ImportRow{}
				}
				a.printJSON(rep)
			} else {
				if len(rep.Rows) > 0 {
					rows := make([][]string, 0, len(rep.Rows))
					for _, r := range rep.Rows {
						rows = append(rows, []string{strconv.Itoa(r.Line), string(r.Outcome), orDash(r.Username), r.Reason})
					}
					a.table([]string{"LINE", "OUTCOME", "USERNAME", "REASON"}, rows)
				}
				fmt.Fprintf(a.out, "imported %d, skipped %d, refused %d\n", rep.Imported, rep.Skipped, rep.Refused)
			}
			if err != nil {
				return a.fail("users import", err)
			}
			if rep.Refused > 0 {
				return ExitFailed
			}
			return ExitOK
		},
	}
}

// exportJSON is one line of an export: the fields an import reads, then the
// account's state. password_hash only with --with-hashes.
type exportJSON struct {
	ID             string     `json:"id"`
	Username       string     `json:"username"`
	PasswordHash   string     `json:"password_hash,omitempty"`
	FullName       *string    `json:"full_name"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	State          string     `json:"state"`
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason *string    `json:"disabled_reason"`
}

func adminUsersExport() adminCmd {
	var outPath string
	var withHashes bool
	return adminCmd{
		name: "users export", args: "", nargs: 0,
		summary: "Write every user as JSON lines (id, username, full_name, created_at, updated_at, state,\n" +
			"disabled_at, disabled_reason), by username, to standard output or --out. Password hashes\n" +
			"only with --with-hashes; such an export is re-imported by users import.",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&outPath, "out", "", "write to this new file (mode 0600) instead of standard output")
			fs.BoolVar(&withHashes, "with-hashes", false, "include password_hash (treat the output as a secret)")
		},
		run: func(a *adminEnv, _ []string) int {
			var w io.Writer = a.out
			if outPath != "" {
				f, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					fmt.Fprintln(a.errOut, "usersvc admin users export:", err)
					return ExitFailed
				}
				defer f.Close()
				w = f
			}
			enc := json.NewEncoder(w)
			n := 0
			err := a.uc.ExportUsers.Do(a.ctx, func(u *user.User) error {
				d := u.Disablement()
				line := exportJSON{ID: u.ID().String(), Username: u.Username().String(), FullName: optional(u.FullName().String()),
					CreatedAt: u.CreatedAt().UTC(), UpdatedAt: u.UpdatedAt().UTC(), State: stateOf(u),
					DisabledAt: jsonTime(d.At), DisabledReason: optional(d.Reason.String())}
				if withHashes {
					line.PasswordHash = u.PasswordHash().Reveal()
				}
				n++
				return enc.Encode(line)
			})
			outcome := "success"
			if err != nil {
				outcome = "failure"
			}
			a.audit("users_exported", outcome, "users", n, "with_hashes", withHashes, "out", orDash(outPath))
			if err != nil {
				return a.fail("users export", err)
			}
			if outPath != "" {
				fmt.Fprintf(a.errOut, "exported %d user(s) to %s\n", n, outPath)
			}
			return ExitOK
		},
	}
}
