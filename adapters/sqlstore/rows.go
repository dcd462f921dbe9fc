package sqlstore

import (
	"fmt"
	"net/netip"
	"time"

	"example.com/usersvc/domain/user"
)

// userRow is the users table as GORM sees it; it never leaves this package.
// The schema, including the unique index on username_key, is declared in
// package migrations, not here.
type userRow struct {
	ID           string    `gorm:"column:id;primaryKey"`
	Username     string    `gorm:"column:username"`
	UsernameKey  string    `gorm:"column:username_key"`
	PasswordHash string    `gorm:"column:password_hash"`
	FullName     *string   `gorm:"column:full_name"`
	CreatedAt    time.Time `gorm:"column:created_at;autoCreateTime:false"` // the domain's clock owns time
	UpdatedAt    time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
	// DisabledAt is NULL while the account is enabled.
	DisabledAt     *time.Time `gorm:"column:disabled_at"`
	DisabledReason *string    `gorm:"column:disabled_reason"`
}

// TableName tells GORM the table's name.
func (userRow) TableName() string { return "users" }

// userColumns are userRow's columns in the order of scanTargets, for the
// reads that scan without GORM's reflection (Users.readUser).
// TestUserColumnsMatchRow fails when a field is added to userRow but not here.
const userColumns = "id, username, username_key, password_hash, full_name, created_at, updated_at, disabled_at, disabled_reason"

// scanTargets are pointers to r's fields in the order of userColumns.
func (r *userRow) scanTargets() []any {
	return []any{&r.ID, &r.Username, &r.UsernameKey, &r.PasswordHash, &r.FullName, &r.CreatedAt, &r.UpdatedAt, &r.DisabledAt, &r.DisabledReason}
}

// toUserRow converts a domain user into its row.
func toUserRow(u *user.User) userRow {
	r := userRow{
		ID:           u.ID().String(),
		Username:     u.Username().String(),
		UsernameKey:  u.Username().Key(),
		PasswordHash: u.PasswordHash().Reveal(),
		CreatedAt:    dbTime(u.CreatedAt()),
		UpdatedAt:    dbTime(u.UpdatedAt()),
	}
	if d := u.Disablement(); d.Disabled() {
		r.DisabledAt = dbTimePtr(d.At)
		r.DisabledReason = textColumn(d.Reason.String())
	}
	if !u.FullName().IsZero() {
		name := u.FullName().String()
		r.FullName = &name
	}
	return r
}

// toUser rebuilds the domain user from its row, checking every column with
// the domain's parsers, so a row written by hand or by an import that breaks a
// rule fails loudly instead of entering the service.
func (r userRow) toUser() (*user.User, error) {
	id, err := user.ParseID(r.ID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored user has a malformed id: %w", err)
	}
	name, err := user.ParseUsername(r.Username)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored user %s has an invalid username: %w", id, err)
	}
	var full user.FullName
	if r.FullName != nil {
		if full, err = user.ParseFullName(*r.FullName); err != nil {
			return nil, fmt.Errorf("sqlstore: stored user %s has an invalid full name: %w", id, err)
		}
	}
	var disabled user.Disablement
	if r.DisabledAt != nil {
		disabled.At = r.DisabledAt.UTC()
		if r.DisabledReason != nil {
			if disabled.Reason, err = user.ParseDisableReason(*r.DisabledReason); err != nil {
				return nil, fmt.Errorf("sqlstore: stored user %s has an invalid disable reason: %w", id, err)
			}
		}
	}
	return user.Restore(id, name, user.NewPasswordHash(r.PasswordHash), full, r.CreatedAt, r.UpdatedAt, disabled), nil
}

// sessionRow is the sessions table as GORM sees it; it never leaves this
// package. Nullable columns are pointers: nil user_id means the session of a
// deleted account (a tombstone), nil previous_refresh_id no rotation yet, nil
// revoked_at a session not revoked, nil ip, user_agent or name none known or
// given.
type sessionRow struct {
	ID                string     `gorm:"column:id;primaryKey"`
	UserID            *string    `gorm:"column:user_id"`
	CreatedAt         time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt         time.Time  `gorm:"column:expires_at"`
	RefreshID         string     `gorm:"column:refresh_id"`
	RefreshIssuedAt   time.Time  `gorm:"column:refresh_issued_at"`
	RefreshExpiresAt  time.Time  `gorm:"column:refresh_expires_at"`
	PreviousRefreshID *string    `gorm:"column:previous_refresh_id"`
	RotatedAt         *time.Time `gorm:"column:rotated_at"`
	RevokedAt         *time.Time `gorm:"column:revoked_at"`
	LastUsedAt        time.Time  `gorm:"column:last_used_at"`
	IP                *string    `gorm:"column:ip"`
	UserAgent         *string    `gorm:"column:user_agent"`
	Name              *string    `gorm:"column:name"`
}

// TableName tells GORM the table's name.
func (sessionRow) TableName() string { return "sessions" }

// scanTargets are pointers to r's fields in the order of sessionColumns, for
// the statements that scan without GORM's reflection (scanSessions).
// TestSessionColumnsMatchRow fails when they fall out of step.
func (r *sessionRow) scanTargets() []any {
	return []any{&r.ID, &r.UserID, &r.CreatedAt, &r.ExpiresAt, &r.RefreshID, &r.RefreshIssuedAt, &r.RefreshExpiresAt,
		&r.PreviousRefreshID, &r.RotatedAt, &r.RevokedAt, &r.LastUsedAt, &r.IP, &r.UserAgent, &r.Name}
}

// toSessionRow converts a domain session into its row.
func toSessionRow(s user.Session) sessionRow {
	uid := s.UserID.String()
	r := sessionRow{
		ID:               s.ID.String(),
		UserID:           &uid,
		CreatedAt:        dbTime(s.CreatedAt),
		ExpiresAt:        dbTime(s.ExpiresAt),
		RefreshID:        s.Current.ID.String(),
		RefreshIssuedAt:  dbTime(s.Current.IssuedAt),
		RefreshExpiresAt: dbTime(s.Current.ExpiresAt),
		LastUsedAt:       dbTime(s.LastUsedAt),
		IP:               ipColumn(s.Client.IP),
		UserAgent:        textColumn(s.Client.UserAgent.String()),
		Name:             textColumn(s.Name.String()),
	}
	if s.Previous != (user.TokenID{}) {
		prev := s.Previous.String()
		r.PreviousRefreshID = &prev
	}
	r.RotatedAt = dbTimePtr(s.RotatedAt)
	r.RevokedAt = dbTimePtr(s.RevokedAt)
	return r
}

// toSession rebuilds the domain session from its row.
func (r sessionRow) toSession() (user.Session, error) {
	sid, err := user.ParseSessionID(r.ID)
	if err != nil {
		return user.Session{}, fmt.Errorf("sqlstore: stored session has a malformed id: %w", err)
	}
	var uid user.ID // the zero ID: the account was deleted
	if r.UserID != nil {
		if uid, err = user.ParseID(*r.UserID); err != nil {
			return user.Session{}, fmt.Errorf("sqlstore: stored session %s has a malformed user id: %w", sid, err)
		}
	}
	current, err := user.ParseTokenID(r.RefreshID)
	if err != nil {
		return user.Session{}, fmt.Errorf("sqlstore: stored session %s has a malformed refresh id: %w", sid, err)
	}
	s := user.Session{
		ID:        sid,
		UserID:    uid,
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
		Current: user.RefreshToken{
			ID:        current,
			IssuedAt:  r.RefreshIssuedAt.UTC(),
			ExpiresAt: r.RefreshExpiresAt.UTC(),
		},
	}
	if r.PreviousRefreshID != nil {
		if s.Previous, err = user.ParseTokenID(*r.PreviousRefreshID); err != nil {
			return user.Session{}, fmt.Errorf("sqlstore: stored session %s has a malformed previous refresh id: %w", sid, err)
		}
	}
	if r.RotatedAt != nil {
		s.RotatedAt = r.RotatedAt.UTC()
	}
	if r.RevokedAt != nil {
		s.RevokedAt = r.RevokedAt.UTC()
	}
	s.LastUsedAt = r.LastUsedAt.UTC()
	if r.IP != nil {
		if s.Client.IP, err = netip.ParseAddr(*r.IP); err != nil {
			return user.Session{}, fmt.Errorf("sqlstore: stored session %s has a malformed ip: %w", sid, err)
		}
	}
	if r.UserAgent != nil {
		s.Client.UserAgent = user.NewUserAgent(*r.UserAgent)
	}
	if r.Name != nil {
		if s.Name, err = user.ParseSessionName(*r.Name); err != nil {
			return user.Session{}, fmt.Errorf("sqlstore: stored session %s has an invalid name: %w", sid, err)
		}
	}
	return s, nil
}

// ipColumn is how an address is stored: its text, or NULL when unknown.
func ipColumn(ip netip.Addr) *string {
	if !ip.IsValid() {
		return nil
	}
	return textColumn(ip.String())
}

// textColumn is a nullable text column: "" is NULL.
func textColumn(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dbTime is how every time is written: UTC, at the microsecond precision
// PostgreSQL keeps, so both dialects store (and compare) the same instant.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// dbTimePtr is dbTime for a nullable column: the zero time is NULL.
func dbTimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := dbTime(t)
	return &v
}
