// Package application holds the use cases of each bounded context, one package
// per context (userapp today, chatapp next). A use-case package imports its own
// domain package, ports and the standard library only: no framework, no
// adapter, no other context.
package application
