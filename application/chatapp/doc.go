// Package chatapp holds the chat context's use cases, one struct per
// operation and one file per struct (CreateChat, ListChats, GetChat,
// RenameChat, DeleteChat, PostMessage, ListMessages), each run by its Do
// method for a ports.Principal that the shared authenticator already checked.
//
// It imports its own domain (domain/chat), its ports (ports/chatports), the
// platform ports and the standard library: nothing of another context.
// Errors are the domain's sentinels or wrap ports.ErrUnavailable.
package chatapp
