// Package clock is the adapter for the ports.Clock and ports.IDs ports: the
// system clock and UUIDv7 identifiers.
//
// It may import domain packages, ports, the standard library and
// github.com/google/uuid; never application, bootstrap or another adapter.
package clock
