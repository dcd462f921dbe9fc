package userapp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
	"example.com/usersvc/ports/userports"
)

// DefaultImportBatch is how many accepted rows ImportUsers commits per
// transaction unless told otherwise.
const DefaultImportBatch = 500

// ImportRecord is one row of an import file, as text.
type ImportRecord struct {
	// Line is the row's line number in its file, for the report.
	Line int
	// Malformed, when set, is why the row could not be read at all; the row
	// is refused with it.
	Malformed    string
	ID           string
	Username     string
	PasswordHash string
	FullName     string // "" for none
	CreatedAt    string // RFC 3339
}

// ImportOutcome is what became of one row.
type ImportOutcome string

// The outcomes of a row.
const (
	Imported ImportOutcome = "imported"
	// Skipped: the same id already holds the same username (a re-run).
	Skipped ImportOutcome = "skipped"
	Refused ImportOutcome = "refused"
)

// ImportRow is the report of one row that was not imported; it never holds
// the password hash.
type ImportRow struct {
	Line     int           `json:"line"`
	ID       string        `json:"id,omitempty"`
	Username string        `json:"username,omitempty"`
	Outcome  ImportOutcome `json:"outcome"`
	Reason   string        `json:"reason"`
}

// ImportReport counts the outcomes and lists every row skipped or refused,
// in file order.
type ImportReport struct {
	Imported int         `json:"imported"`
	Skipped  int         `json:"skipped"`
	Refused  int         `json:"refused"`
	Rows     []ImportRow `json:"rows"`
}

// ImportUsers brings accounts over from another system, with their password
// hashes as they are: bcrypt ones are replaced by argon2id at each user's
// first login.
type ImportUsers struct {
	users   userports.Users
	tx      ports.Transactor
	checker userports.HashChecker
	clock   ports.Clock
	log     *eventLog
}

// validRow is a row that passed every rule.
type validRow struct {
	line int
	u    *user.User
}

// Do imports records. Every row is checked by the domain's rules (id a
// canonical UUID, username, full name, created_at RFC 3339 and not in the
// future) and its hash by the checker (a known scheme within the cost
// bounds, so no planted hash gets in); rows that fail are refused with
// their line and reason. Accepted rows are stored batch rows at a time
// (batch < 1: DefaultImportBatch), each batch one transaction holding each
// user and its user.created event (recorded now, carrying the row's
// created_at). A row whose id already holds the same username is skipped,
// so a second run changes nothing; a row whose id or username another
// account holds is refused. When a batch cannot be stored (the database
// fails), Do returns the report so far with the error: the batches before
// it are committed, it and the rest are not, and a re-run skips what got
// in.
func (uc *ImportUsers) Do(ctx context.Context, records iter.Seq[ImportRecord], batch int) (rep ImportReport, err error) {
	if batch < 1 {
		batch = DefaultImportBatch
	}
	defer sortRows(&rep) // on the named result, so every return is sorted
	var pending []validRow
	refuse := func(r ImportRecord, reason string) {
		rep.Refused++
		rep.Rows = append(rep.Rows, ImportRow{Line: r.Line, ID: r.ID, Username: r.Username, Outcome: Refused, Reason: reason})
	}
	for r := range records {
		if r.Malformed != "" {
			refuse(r, r.Malformed)
			continue
		}
		u, reason := uc.validate(r)
		if reason != "" {
			refuse(r, reason)
			continue
		}
		pending = append(pending, validRow{line: r.Line, u: u})
		if len(pending) == batch {
			if err := uc.store(ctx, pending, &rep); err != nil {
				return rep, err
			}
			pending = pending[:0]
		}
	}
	if len(pending) > 0 {
		if err := uc.store(ctx, pending, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// sortRows puts the report's rows in file order: a batch's rows are
// reported when it commits, after rows refused later in the file.
func sortRows(rep *ImportReport) {
	slices.SortStableFunc(rep.Rows, func(a, b ImportRow) int { return cmp.Compare(a.Line, b.Line) })
}

// validate checks r by the domain's rules and returns the user it makes,
// or why not.
func (uc *ImportUsers) validate(r ImportRecord) (*user.User, string) {
	id, err := user.ParseID(r.ID)
	if err != nil || len(r.ID) != 36 {
		return nil, "id: must be a UUID in canonical form"
	}
	name, err := user.ParseUsername(r.Username)
	if err != nil {
		return nil, "username: " + err.Error()
	}
	var full user.FullName
	if r.FullName != "" {
		if full, err = user.ParseFullName(r.FullName); err != nil {
			return nil, "full_name: " + err.Error()
		}
	}
	created, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
	if err != nil {
		return nil, "created_at: must be an RFC 3339 time such as 2021-03-04T05:06:07Z"
	}
	if created.After(uc.clock.Now()) {
		return nil, "created_at: is in the future"
	}
	hash := user.NewPasswordHash(r.PasswordHash)
	if err := uc.checker.CheckStored(hash); err != nil {
		return nil, "password_hash: " + err.Error()
	}
	return user.New(id, name, hash, full, created), ""
}

// store writes one batch in one transaction, each row in a savepoint of its
// own, so a row refused by the database leaves the others alone.
func (uc *ImportUsers) store(ctx context.Context, rows []validRow, rep *ImportReport) error {
	now := uc.clock.Now()
	var outcome []ImportRow
	err := uc.tx.Atomically(ctx, func(ctx context.Context) error {
		outcome = outcome[:0]
		for _, r := range rows {
			res, err := uc.storeOne(ctx, r, now)
			if err != nil {
				return fmt.Errorf("line %d: %w", r.line, err)
			}
			outcome = append(outcome, res)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import batch from line %d: %w", rows[0].line, err)
	}
	for _, res := range outcome {
		switch res.Outcome {
		case Imported:
			rep.Imported++
			continue
		case Skipped:
			rep.Skipped++
		case Refused:
			rep.Refused++
		}
		rep.Rows = append(rep.Rows, res)
	}
	return nil
}

// storeOne stores one row, or says why it was skipped or refused. Its error
// is a database failure, which fails the batch.
func (uc *ImportUsers) storeOne(ctx context.Context, r validRow, now time.Time) (ImportRow, error) {
	res := ImportRow{Line: r.line, ID: r.u.ID().String(), Username: r.u.Username().String(), Outcome: Imported}
	existing, err := uc.users.ByID(ctx, r.u.ID())
	switch {
	case err == nil && existing.Username().Key() == r.u.Username().Key():
		res.Outcome, res.Reason = Skipped, "already imported: this id holds this username"
		return res, nil
	case err == nil:
		res.Outcome, res.Reason = Refused, "id: already belongs to another user ("+existing.Username().String()+")"
		return res, nil
	case !errors.Is(err, user.ErrNotFound):
		return res, err
	}
	err = uc.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := uc.users.Add(ctx, r.u); err != nil {
			return err
		}
		return uc.log.record(ctx, userImported(r.u, now))
	})
	if errors.Is(err, user.ErrUsernameTaken) {
		res.Outcome, res.Reason = Refused, "username: already taken by another user"
		return res, nil
	}
	return res, err
}
