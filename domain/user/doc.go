// Package user is the user bounded context's domain: the User entity, its
// Session (with the Client it is used from), the value objects that enforce
// the field rules of the API contract (Username, Password, FullName,
// SessionName, UserAgent) and the errors of the context.
//
// It imports only the standard library and github.com/google/uuid. Adapters
// translate its errors into protocol answers; nothing here knows about HTTP,
// SQL or JWT.
package user
