package userapp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/domain/user"
	"example.com/usersvc/ports"
)

// The event types the user context records, and the data of each: exactly
// the fields the contract lists, timestamps in UTC. None carries a password,
// a hash or a token: the data structs have no field that could hold one.
const (
	typeUserCreated         = "user.created"
	typeUserUpdated         = "user.updated"
	typeUserPasswordChanged = "user.password_changed"
	typeUserDeleted         = "user.deleted"
	typeUserDisabled        = "user.disabled"
	typeUserEnabled         = "user.enabled"
	typeSessionStarted      = "session.started"
	typeSessionRevoked      = "session.revoked"
)

// Why a session.revoked event says its session ended.
const (
	reasonLogout          = "logout"
	reasonReuseDetected   = "reuse_detected"
	reasonPasswordChanged = "password_changed"
	reasonRevokedByUser   = "revoked_by_user"
	reasonEvicted         = "evicted"
	reasonAccountDeleted  = "account_deleted"
	reasonAccountDisabled = "account_disabled"
)

// userCreatedData is the data of user.created.
type userCreatedData struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	FullName  *string   `json:"full_name"`
	CreatedAt time.Time `json:"created_at"`
}

// userUpdatedData is the data of user.updated. Changed names the fields that
// changed, as the API names them.
type userUpdatedData struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	FullName  *string   `json:"full_name"`
	UpdatedAt time.Time `json:"updated_at"`
	Changed   []string  `json:"changed"`
}

// userAtData is the data of user.password_changed, user.deleted,
// user.disabled and user.enabled.
type userAtData struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// sessionStartedData is the data of session.started.
type sessionStartedData struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

// sessionRevokedData is the data of session.revoked.
type sessionRevokedData struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// change is one event before it has an id: what happened, to whom, when.
type change struct {
	kind    string
	subject user.ID
	at      time.Time
	data    any
}

func fullNameField(u *user.User) *string {
	if u.FullName().IsZero() {
		return nil
	}
	name := u.FullName().String()
	return &name
}

func userCreated(u *user.User) change {
	return change{typeUserCreated, u.ID(), u.CreatedAt(), userCreatedData{
		ID: u.ID().String(), Username: u.Username().String(), FullName: fullNameField(u), CreatedAt: u.CreatedAt().UTC(),
	}}
}

func userUpdated(u *user.User, changed []string) change {
	return change{typeUserUpdated, u.ID(), u.UpdatedAt(), userUpdatedData{
		ID: u.ID().String(), Username: u.Username().String(), FullName: fullNameField(u), UpdatedAt: u.UpdatedAt().UTC(), Changed: changed,
	}}
}

func userPasswordChanged(uid user.ID, at time.Time) change {
	return change{typeUserPasswordChanged, uid, at, userAtData{ID: uid.String(), At: at.UTC()}}
}

func userDeleted(uid user.ID, at time.Time) change {
	return change{typeUserDeleted, uid, at, userAtData{ID: uid.String(), At: at.UTC()}}
}

// userImported is the user.created of an imported account: recorded when
// the import ran, carrying the account's original created_at.
func userImported(u *user.User, at time.Time) change {
	c := userCreated(u)
	c.at = at
	return c
}

func userDisabled(uid user.ID, at time.Time) change {
	return change{typeUserDisabled, uid, at, userAtData{ID: uid.String(), At: at.UTC()}}
}

func userEnabled(uid user.ID, at time.Time) change {
	return change{typeUserEnabled, uid, at, userAtData{ID: uid.String(), At: at.UTC()}}
}

func sessionStarted(s user.Session) change {
	return change{typeSessionStarted, s.UserID, s.CreatedAt, sessionStartedData{ID: s.ID.String(), UserID: s.UserID.String(), At: s.CreatedAt.UTC()}}
}

// sessionsRevoked is one session.revoked per id, all for one reason.
func sessionsRevoked(uid user.ID, ids []user.SessionID, at time.Time, reason string) []change {
	out := make([]change, len(ids))
	for i, sid := range ids {
		out[i] = change{typeSessionRevoked, uid, at, sessionRevokedData{ID: sid.String(), UserID: uid.String(), At: at.UTC(), Reason: reason}}
	}
	return out
}

// eventLog turns changes into events and records them. Called inside the
// transaction of the change, so the events commit with it or not at all.
type eventLog struct {
	events ports.Events
	ids    ports.IDs
}

// record records the changes, in order, each with a new id.
func (l *eventLog) record(ctx context.Context, changes ...change) error {
	if len(changes) == 0 {
		return nil
	}
	events := make([]ports.Event, len(changes))
	for i, c := range changes {
		data, err := json.Marshal(c.data)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", c.kind, err)
		}
		events[i] = ports.Event{ID: uuid.UUID(l.ids.NewUUID()), Type: c.kind, Subject: uuid.UUID(c.subject), Time: c.at.UTC(), Data: data}
	}
	if err := l.events.Record(ctx, events...); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}
