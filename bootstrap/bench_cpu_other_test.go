//go:build !unix

package bootstrap_test

import "testing"

// startCPU reports nothing where the process's CPU time is not read.
func startCPU(*testing.B) (stop func()) { return func() {} }
