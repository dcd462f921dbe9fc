package bootstrap_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// buildBinary builds the service once per test run, as a user would run it.
func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "usersvc-bin")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "usersvc")
		out, err := exec.Command("go", "build", "-o", binaryPath, "example.com/usersvc").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// process is the service running as its own OS process.
type process struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	// done is closed when the process has exited; err is then its exit error.
	done chan struct{}
	err  error
}

// textListening finds the address in the "listening" line of LOG_FORMAT=text.
var textListening = regexp.MustCompile(`\blevel=INFO msg=listening addr=(\S+)`)

// startProcess runs the binary with env on a free port and waits until it
// logs where it listens (in either LOG_FORMAT).
func startProcess(t *testing.T, env ...string) *process {
	t.Helper()
	cmd := exec.Command(buildBinary(t))
	cmd.Env = append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DATABASE_URL=", "LOG_FORMAT=json",
		"ARGON2_MEMORY_KIB=8192", "ARGON2_TIME=1", "RATE_LIMITS=off", "COOKIE_SECURE=false")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				listening <- entry.Addr
			} else if m := textListening.FindStringSubmatch(line); m != nil { // LOG_FORMAT=text
				listening <- m[1]
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.base = <-listening:
	case <-p.done:
		t.Fatalf("service exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not listen within 60s\n%s", p.stderr)
	}
	return p
}

// runCommand runs the binary with args and env and returns its exit code.
func runCommand(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

func TestWrongConfigurationStopsWithOneLineAndExitCode2(t *testing.T) {
	cases := map[string]string{
		"LOG_LEVEL":         "loud",
		"ACCESS_TOKEN_TTL":  "forever",
		"DATABASE_URL":      "mysql://x",
		"RATE_LIMITS":       "maybe",
		"CORS_ORIGINS":      "*",
		"PASSWORD_POLICY":   "weak",
		"SIGNING_KEY_FILES": "",
	}
	for name, value := range cases {
		env := []string{name + "=" + value, "DATA_DIR=" + t.TempDir()}
		if name == "SIGNING_KEY_FILES" {
			env = append(env, "APP_ENV=production")
		}
		code, _, stderr := runCommand(t, env, "serve")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], name) {
			t.Errorf("%s=%q: exit %d, stderr %q; want exit 2 and one line naming %s", name, value, code, stderr, name)
		}
	}
}

func TestHelpListsEverySettingAndVersionPrints(t *testing.T) {
	code, out, _ := runCommand(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, name := range []string{"HTTP_ADDR", "DATABASE_URL", "DATA_DIR", "COOKIE_SECURE", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "REFRESH_REUSE_GRACE", "RATE_LIMITS", "SIGNING_KEY_FILES", "METRICS_ADDR", "SHUTDOWN_GRACE"} {
		if !strings.Contains(out, name) {
			t.Errorf("--help does not list %s", name)
		}
	}
	code, out, _ = runCommand(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "usersvc ") || !strings.Contains(out, "commit") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if code, _, _ := runCommand(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
}

func TestMigrateSubcommandOnSQLite(t *testing.T) {
	env := []string{"DATA_DIR=" + t.TempDir(), "DATABASE_URL="}
	if code, out, errOut := runCommand(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up: %d %s %s", code, out, errOut)
	}
	_, status, _ := runCommand(t, env, "migrate", "status")
	if strings.Contains(status, "pending") || !strings.Contains(status, "00002_sessions.sql") {
		t.Fatalf("status after up:\n%s", status)
	}
	if code, _, errOut := runCommand(t, env, "migrate", "down"); code != 0 {
		t.Fatalf("migrate down: %d %s", code, errOut)
	}
	_, status, _ = runCommand(t, env, "migrate", "status")
	if strings.Count(status, "pending") != 1 {
		t.Fatalf("one migration pending after down:\n%s", status)
	}
	if code, _, _ := runCommand(t, env, "migrate", "sideways"); code != 2 {
		t.Fatalf("migrate sideways exit %d, want 2", code)
	}
}

// TestSIGTERMFinishesEveryAcceptedRequest sends SIGTERM to a real process
// under load: every request sent before the signal completes with 201,
// /readyz reports 503 while draining, and the exit code is 0. Requests sent
// after the signal may be refused once the listener closes.
func TestSIGTERMFinishesEveryAcceptedRequest(t *testing.T) {
	p := startProcess(t, "SHUTDOWN_DRAIN_DELAY=1s", "SHUTDOWN_GRACE=10s")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

	var completed, lateFailures atomic.Int64
	var signalled atomic.Bool // set just before SIGTERM is sent
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sentBeforeSignal := !signalled.Load()
				body := fmt.Sprintf(`{"username":"load%dx%d","password":"Sup3r$ecret"}`, w, i)
				resp, err := client.Post(p.base+"/api/v1/users/signup", "application/json", strings.NewReader(body))
				if err != nil {
					if sentBeforeSignal {
						failures.Store(err.Error(), true)
					} else {
						lateFailures.Add(1) // sent after SIGTERM: may be refused or reset
					}
					if !sentBeforeSignal {
						return
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failures.Store(fmt.Sprintf("status %d", resp.StatusCode), true)
				}
				completed.Add(1)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawDraining := false
	for deadline := time.Now().Add(900 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
				sawDraining = true
				break
			}
		}
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit within 30s of SIGTERM")
	}
	close(stop)
	wg.Wait()

	if p.err != nil {
		t.Fatalf("exit: %v\n%s", p.err, p.stderr)
	}
	if !sawDraining {
		t.Error("/readyz did not answer 503 while draining")
	}
	failures.Range(func(k, _ any) bool {
		t.Errorf("an accepted request failed: %v", k)
		return true
	})
	if completed.Load() == 0 {
		t.Fatal("no request completed: the load did not run")
	}
	t.Logf("completed %d requests; %d sent after SIGTERM failed once the listener closed", completed.Load(), lateFailures.Load())
}

// TestSlowlorisIsCutOffAtTheHeaderTimeout drips header bytes slower than
// the header timeout allows; the server closes that connection while normal
// requests keep flowing.
func TestSlowlorisIsCutOffAtTheHeaderTimeout(t *testing.T) {
	p := startProcess(t, "HTTP_READ_HEADER_TIMEOUT=1s")
	addr := strings.TrimPrefix(p.base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // far below HTTP_READ_TIMEOUT (15s)
	defer cancel()
	closed := make(chan error, 1)
	go func() { // the server's answer, or its closing of the connection
		buf := make([]byte, 512)
		_, err := conn.Read(buf)
		for err == nil {
			_, err = conn.Read(buf)
		}
		closed <- err
	}()
	drip := time.NewTicker(300 * time.Millisecond)
	defer drip.Stop()
	normalOK := 0
	for {
		select {
		case err := <-closed:
			if normalOK == 0 {
				t.Fatal("no normal request was served while the slow client was connected")
			}
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("slow connection ended with %v", err)
			}
			return
		case <-drip.C:
			_, _ = io.WriteString(conn, "X") // never finishes the header block
			resp, err := http.Get(p.base + "/healthz")
			if err != nil {
				t.Fatalf("normal request failed during slowloris: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				normalOK++
			}
		case <-ctx.Done():
			t.Fatal("the slow connection was not cut off within 5s")
		}
	}
}
