// Package userapp holds the user context's use cases, one struct per
// operation (SignUp, LogIn, Refresh, LogOut, Authenticate, Profile,
// ReplaceProfile, PatchProfile, DeleteAccount), each built by NewX from the
// ports it needs and run by its Do method.
//
// Passwords are hashed and compared before any transaction starts, so slow
// hashing never holds a database connection. Writes that span rows run inside
// ports.Transactor.Atomically. Errors are the domain's sentinels or wrap
// ports.ErrUnavailable / ports.ErrBusy; callers map them to protocol answers.
package userapp
