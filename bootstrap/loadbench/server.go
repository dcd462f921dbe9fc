package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"example.com/usersvc/adapters/clock"
	"example.com/usersvc/adapters/tokens"
)

// buildServer compiles the service (the module's main package) into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "usersvc")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	fmt.Printf("built %s in %s\n", bin, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// moduleRoot is the directory of go.mod, found with go env GOMOD.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run loadbench inside the module")
	}
	return filepath.Dir(mod), nil
}

// benchKeys is the signing key the server is started with (SIGNING_KEY_FILES)
// and an issuer on the same key, which mints the fresh access tokens of the
// me-fresh workload exactly as the service would sign them.
type benchKeys struct {
	file   string
	issuer *tokens.Issuer
}

func newBenchKeys(dir string) (*benchKeys, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	ring, err := tokens.LoadKeys([]string{file})
	if err != nil {
		return nil, err
	}
	return &benchKeys{file: file, issuer: tokens.NewIssuer(ring, clock.System{}, tokens.Options{VerifiedCacheSize: -1})}, nil
}

// server is one running instance of the built binary.
type server struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logFile *os.File
	started time.Time
	ready   time.Duration
}

// startServer runs bin with env (added to this process's environment),
// pinned to cpu when the machine has two or more CPUs, and waits for
// /readyz. Its logs go to logPath.
func startServer(ctx context.Context, bin string, env []string, cpu int, logPath string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	args := []string{"serve"}
	name := bin
	if machineCPUs() >= 2 {
		if taskset, err := exec.LookPath("taskset"); err == nil {
			name, args = taskset, append([]string{"-c", strconv.Itoa(cpu), bin}, args...)
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append([]string{
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"APP_ENV=development",
		"RATE_LIMITS=off", // the bench measures the work, not the abuse limits
		"SHUTDOWN_GRACE=2s",
	}, env...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	s := &server{cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), logFile: logFile}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	if name != bin { // taskset execs bin in the same process; make sure it has
		for i := 0; i < 1000 && !strings.HasSuffix(readComm(cmd.Process.Pid), "usersvc"); i++ {
			time.Sleep(100 * time.Microsecond)
		}
	} else if machineCPUs() >= 2 {
		pinAllThreads(cmd.Process.Pid, cpu)
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(s.started)
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil || exited(cmd) {
			s.stop()
			return nil, fmt.Errorf("server not ready (see %s)", logPath)
		}
		time.Sleep(time.Millisecond)
	}
}

// exited reports whether the process has ended, without reaping it.
func exited(cmd *exec.Cmd) bool {
	var status unix.WaitStatus
	pid, err := unix.Wait4(cmd.Process.Pid, &status, unix.WNOHANG, nil)
	return err != nil || pid == cmd.Process.Pid
}

// stop sends SIGTERM and waits for the process, killing it after 10 s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.logFile.Close()
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// cpuTime is the server's user plus system CPU time so far, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks).
func (s *server) cpuTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid()))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot read /proc/%d/stat", s.pid())
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks), nil
}

// runQueueWait is how long the server's threads have waited, runnable, for
// a CPU (the second field of /proc/<pid>/task/<tid>/schedstat), summed over
// the threads alive now: time the core spent on someone else while the
// server had work.
func (s *server) runQueueWait() time.Duration {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.pid()))
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", s.pid(), t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			total += n
		}
	}
	return time.Duration(total)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// memory reads VmRSS and VmHWM (peak) of the server, in bytes.
func (s *server) memory() (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

func readComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// pinAllThreads sets the affinity of every thread of pid to cpu (the fallback
// when taskset is missing: threads created later inherit it).
func pinAllThreads(pid, cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.SchedSetaffinity(tid, &set)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// machineCPUs counts the machine's online CPUs (not this process's affinity).
func machineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 1
	}
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		z := a
		if found {
			z, _ = strconv.Atoi(hi)
		}
		n += z - a + 1
	}
	return n
}

// machineDescription names the CPU model, memory, kernel and OS.
func machineDescription() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), " kB"), 10, 64)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	osName := ""
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osName = ", " + strings.Trim(v, `"`)
			}
		}
	}
	var u unix.Utsname
	kernel := ""
	if unix.Uname(&u) == nil {
		kernel = ", Linux " + unix.ByteSliceToString(u.Release[:])
	}
	return fmt.Sprintf("%d × %s%s%s%s", machineCPUs(), model, mem, osName, kernel)
}
