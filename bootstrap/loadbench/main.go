// Command loadbench is the service's load benchmark. It builds the real
// binary, starts it on PostgreSQL (a fresh database it creates and drops)
// and on SQLite (a temporary DATA_DIR), pins the server to CPU 0 and itself
// to CPU 1 when the machine has two or more, and drives the server over
// loopback with -c connections through each workload: GET /me with one token
// reused, GET /me with a fresh token per request, a chat read, refresh (one
// session chain per connection, its cookie rotated every request), login and
// signup. For each it prints req/s, p50, p99, errors, the server's CPU time
// per request (from /proc/<pid>/stat), and on PostgreSQL the new database
// connections opened during the steady phase; it also prints the server's
// idle RSS and, on SQLite, its start-to-ready time on a warm file. In the
// same run it measures one Ed25519 verification and one argon2id hash (the
// service's default parameters) on the server's core and prints every CPU
// figure also as a multiple of them, so results compare across machines.
//
// Usage:
//
//	go run ./bootstrap/loadbench                 # both databases, 1,000 users
//	go run ./bootstrap/loadbench -db postgres -scale
//	                                              # plus 1,000,000 users and 3,000,000
//	                                              # sessions, then the scale workloads
//	                                              # and EXPLAIN of the hot queries
//	go run ./bootstrap/loadbench seed -database-url postgres://.../db
//	                                              # only seed an existing database
//
// TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) names
// the PostgreSQL server; the benchmark creates usersvc_bench on it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings of a run.
type options struct {
	conns     int
	warmup    time.Duration
	duration  time.Duration
	dbs       []string
	workloads []string
	users     int
	scale     bool
	scaleU    int
	scaleS    int
	pgURL     string
	keep      bool
	serverCPU int
	benchCPU  int
	logLevel  string
}

// pinnedEnv marks the re-executed, CPU-pinned benchmark process.
const pinnedEnv = "LOADBENCH_PINNED"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "seed" {
		os.Exit(seedCommand(os.Args[2:]))
	}
	var o options
	var dbs, workloads string
	flag.IntVar(&o.conns, "c", 32, "concurrent connections")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up of each workload, not measured")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "steady phase of each workload, measured")
	flag.StringVar(&dbs, "db", "postgres,sqlite", "databases to run on: postgres, sqlite")
	flag.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "workloads to run")
	flag.IntVar(&o.users, "users", 1000, "users seeded before the workloads")
	flag.BoolVar(&o.scale, "scale", false, "after the normal run on PostgreSQL, seed -scale-users and -scale-sessions more and run "+strings.Join(scaleWorkloads, ", ")+" again")
	flag.IntVar(&o.scaleU, "scale-users", 1_000_000, "users added for -scale")
	flag.IntVar(&o.scaleS, "scale-sessions", 3_000_000, "sessions added for -scale")
	flag.StringVar(&o.pgURL, "pg", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL server (its database is only used to create usersvc_bench)")
	flag.BoolVar(&o.keep, "keep", false, "keep the usersvc_bench database afterwards")
	flag.IntVar(&o.serverCPU, "server-cpu", 0, "CPU the server is pinned to (when the machine has two or more)")
	flag.IntVar(&o.benchCPU, "bench-cpu", 1, "CPU the load generator is pinned to (when the machine has two or more)")
	flag.StringVar(&o.logLevel, "log-level", "info", "LOG_LEVEL of the server (info writes the access log, as in production)")
	flag.Parse()
	o.dbs = splitList(dbs)
	o.workloads = splitList(workloads)
	for _, w := range o.workloads {
		if !contains(allWorkloads, w) {
			fmt.Fprintf(os.Stderr, "loadbench: unknown workload %q (have %s)\n", w, strings.Join(allWorkloads, ", "))
			os.Exit(2)
		}
	}
	if pinSelf(o.benchCPU) {
		return // the pinned child ran and exited
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// pinSelf re-executes the benchmark under taskset on cpu, once, when the
// machine has two or more CPUs, so that the Go runtime of the load generator
// sees one CPU from its start. It reports whether it did (and the child has
// finished, its exit code passed on).
func pinSelf(cpu int) bool {
	if os.Getenv(pinnedEnv) != "" || runtime.NumCPU() < 2 {
		return false
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench: taskset not found; the load generator is not pinned")
		return false
	}
	self, err := os.Executable()
	if err != nil {
		return false
	}
	cmd := exec.Command(taskset, append([]string{"-c", fmt.Sprint(cpu), self}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	signal.Ignore(os.Interrupt) // the child handles it
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
	return true
}

func run(ctx context.Context, o options) error {
	fmt.Printf("loadbench %s: %d connections, warm-up %s, steady %s, %d users, Go %s, %d CPUs on the machine\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), o.conns, o.warmup, o.duration, o.users, runtime.Version(), machineCPUs())
	fmt.Printf("machine: %s\n", machineDescription())

	work, err := os.MkdirTemp("", "loadbench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	bin, err := buildServer(ctx, work)
	if err != nil {
		return err
	}
	keys, err := newBenchKeys(work)
	if err != nil {
		return err
	}
	cal, err := calibrate(o.serverCPU, o.benchCPU)
	if err != nil {
		return err
	}
	fmt.Printf("calibration on CPU %d: one Ed25519 verification %.1f µs CPU, one argon2id hash (m=%d KiB, t=%d, p=%d) %.1f ms CPU = %.1f hashes/s\n\n",
		cal.cpu, us(cal.verify), cal.argonMemory, cal.argonTime, cal.argonThreads, ms(cal.hash), 1/cal.hash.Seconds())

	for _, db := range o.dbs {
		var err error
		switch db {
		case "postgres":
			err = runPostgres(ctx, o, bin, keys, cal, work)
		case "sqlite":
			err = runSQLite(ctx, o, bin, keys, cal, work)
		default:
			err = fmt.Errorf("unknown database %q", db)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", db, err)
		}
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
