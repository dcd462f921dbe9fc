package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sys/unix"

	"example.com/usersvc/bootstrap"
)

// calibration is what one core of this machine does alone: the CPU time of
// one Ed25519 verification of a token-sized message and of one argon2id
// hash with the service's default parameters. Every CPU figure is also
// printed as a multiple of them.
type calibration struct {
	cpu                     int
	verify, hash            time.Duration
	argonMemory, argonTime  uint32
	argonThreads            uint8
	verifyOps, hashOps      int
	verifyWall, hashWallAvg time.Duration
}

// calibrate measures on cpu (the server's core): every thread of this
// process is moved there for the measurement and back to benchCPU after it.
// Times are this process's CPU time (getrusage), not wall time, so another
// process sharing the core does not inflate them; nothing else runs in the
// process meanwhile. argon2id runs its lane in a goroutine of its own, which
// is why the whole process moves, not one locked thread.
func calibrate(cpu, benchCPU int) (calibration, error) {
	cfg := bootstrap.Defaults()
	c := calibration{cpu: cpu, argonMemory: cfg.Argon2MemoryKiB, argonTime: cfg.Argon2Time, argonThreads: cfg.Argon2Threads}
	if machineCPUs() >= 2 {
		pinAllThreads(os.Getpid(), cpu)
		defer pinAllThreads(os.Getpid(), benchCPU)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return c, err
	}
	// An access token's signing input is about 330 bytes (header and claims).
	msg := make([]byte, 330)
	_, _ = rand.Read(msg)
	sig := ed25519.Sign(priv, msg)
	for range 500 { // warm up
		ed25519.Verify(pub, msg, sig)
	}
	c.verifyOps = 20000
	t0, w0 := processCPU(), time.Now()
	for range c.verifyOps {
		if !ed25519.Verify(pub, msg, sig) {
			return c, errors.New("ed25519 verification failed")
		}
	}
	c.verify, c.verifyWall = (processCPU()-t0)/time.Duration(c.verifyOps), time.Since(w0)/time.Duration(c.verifyOps)

	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	argon2.IDKey([]byte("warm-up"), salt, c.argonTime, c.argonMemory, c.argonThreads, 32)
	c.hashOps = 20
	t0, w0 = processCPU(), time.Now()
	for i := range c.hashOps {
		argon2.IDKey([]byte(fmt.Sprint("Sup3r$ecret", i)), salt, c.argonTime, c.argonMemory, c.argonThreads, 32)
	}
	c.hash, c.hashWallAvg = (processCPU()-t0)/time.Duration(c.hashOps), time.Since(w0)/time.Duration(c.hashOps)
	runtime.GC() // the hashes' 19 MiB each
	return c, nil
}

// processCPU is this process's user plus system CPU time.
func processCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
