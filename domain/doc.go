// Package domain holds the bounded contexts' entities, value objects and errors,
// one package per context (user today, chat next). Domain packages import only
// the standard library and github.com/google/uuid: no framework, no storage, no HTTP.
package domain
