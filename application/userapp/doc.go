// Package userapp holds the user context's use cases, one struct per
// operation and one file per struct, named after it (signup.go, login.go,
// refresh.go, logout.go, profile.go, replace_profile.go, patch_profile.go,
// delete_account.go, list_sessions.go, rename_session.go,
// revoke_session.go, revoke_other_sessions.go, clean_up_sessions.go), each
// run by its Do method. UseCases in usecases.go is the one list of them.
//
// Every change of a user or a session records its event (events.go) with
// ports.Events inside the transaction of the change, so the event commits
// with it or not at all. Use cases that act for a signed-in caller receive a
// ports.Principal whose session the platform's authenticator already
// checked; none checks the session again.
//
// Passwords are hashed and compared before any transaction starts, so slow
// hashing never holds a database connection. Writes that span rows run inside
// ports.Transactor.Atomically. Errors are the domain's sentinels or wrap
// ports.ErrUnavailable / ports.ErrBusy; callers map them to protocol answers.
//
// It imports its own domain (domain/user), its ports (ports/userports), the
// platform ports and the standard library: nothing of another context.
package userapp
