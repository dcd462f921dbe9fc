// Package chat is the chat bounded context's domain: the Chat and Message
// entities, the value objects that enforce the field rules of the chat routes
// (Title, Body, the page Limit and Cursor) and the errors of the context.
//
// A chat belongs to the user who created it. The context knows that user only
// by id (a uuid.UUID): it imports nothing of the user context, only the
// standard library and github.com/google/uuid.
package chat
