//go:build unix

package bootstrap_test

import (
	"syscall"
	"testing"
	"time"
)

// startCPU starts counting this process's CPU time (user plus system) and
// returns the function that reports it per operation as cpu-ns/op. Unlike
// ns/op, it does not grow when other processes share the cores, and it
// counts the work of every goroutine a request starts (argon2id's lanes).
func startCPU(b *testing.B) (stop func()) {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
