//go:build !linux

package sqlstore

import "syscall"

// setUserTimeout does nothing outside Linux, which alone has
// TCP_USER_TIMEOUT; keepalive still notices a dead peer there.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
