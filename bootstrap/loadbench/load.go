package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The workloads, in the order they run.
var allWorkloads = []string{"me", "me-fresh", "chat", "refresh", "login", "signup"}

// scaleWorkloads are repeated after the scale seed.
var scaleWorkloads = []string{"me", "refresh", "login", "chat"}

// workload is one kind of request that every connection sends in a loop.
type workload struct {
	name string
	// want is the status every answer must have; any other is an error.
	want int
	// request builds connection w's next request.
	request func(w int) *http.Request
	// after reads the answer (body already read) for state the next
	// request needs, e.g. the rotated refresh cookie; nil for none.
	after func(w int, resp *http.Response, body []byte) error
	// check, if set, says after the run whether it measured what it meant to.
	check func() error
}

// result is what one workload measured in its steady phase.
type result struct {
	name        string
	requests    int
	errors      int
	warmErrors  int
	firstError  string
	duration    time.Duration
	p50, p99    time.Duration
	serverCPU   time.Duration
	runWait     time.Duration // the server's run-queue wait over the phase
	newConns    int
	connsMethod string
	dbSessions  int64 // pg_stat_database.sessions delta, -1 when unknown
	note        string
}

func (r result) rate() float64 { return float64(r.requests) / r.duration.Seconds() }

func (r result) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.serverCPU / time.Duration(r.requests)
}

// newHTTPClient keeps one keep-alive connection per concurrent worker.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// connWatch counts database connections opened during the steady phase;
// nil on SQLite.
type connWatch interface {
	start(ctx context.Context, since time.Time)
	stop() (opened int, sessions int64, method string)
}

// drive runs wl on conns workers: warm-up, then the steady phase, in which
// completed requests, their latencies and the server's CPU time are counted.
func drive(ctx context.Context, client *http.Client, srv *server, wl workload, o options, watch connWatch) (result, error) {
	const (
		warm int32 = iota
		steady
		done
	)
	var phase atomic.Int32
	type workerStats struct {
		lat        []time.Duration
		errors     int
		warmErrors int
		first      string
	}
	stats := make([]workerStats, o.conns)
	var wg sync.WaitGroup
	for w := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stats[w]
			st.lat = make([]time.Duration, 0, 1<<14)
			var buf bytes.Buffer
			fail := func(msg string) {
				if phase.Load() == steady {
					st.errors++
				} else {
					st.warmErrors++
				}
				if st.first == "" {
					st.first = msg
				}
			}
			for phase.Load() != done && ctx.Err() == nil {
				req := wl.request(w)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail(err.Error())
					continue
				}
				buf.Reset()
				_, err = io.Copy(&buf, resp.Body)
				resp.Body.Close()
				lat := time.Since(t0)
				p := phase.Load()
				switch {
				case err != nil:
					fail(err.Error())
					continue
				case resp.StatusCode != wl.want:
					fail(fmt.Sprintf("status %d: %.200s", resp.StatusCode, buf.String()))
					continue
				}
				if wl.after != nil {
					if err := wl.after(w, resp, buf.Bytes()); err != nil {
						fail(err.Error())
						continue
					}
				}
				if p == steady {
					st.lat = append(st.lat, lat)
				}
			}
		}()
	}
	r := result{name: wl.name, dbSessions: -1}
	sleep(ctx, o.warmup)
	cpu0, err := srv.cpuTime()
	if err != nil {
		return r, err
	}
	wait0 := srv.runQueueWait()
	begin := time.Now()
	if watch != nil {
		watch.start(ctx, begin)
	}
	phase.Store(steady)
	sleep(ctx, o.duration)
	phase.Store(done)
	r.duration = time.Since(begin)
	cpu1, err := srv.cpuTime()
	if err != nil {
		return r, err
	}
	r.serverCPU = cpu1 - cpu0
	r.runWait = srv.runQueueWait() - wait0
	wg.Wait()
	if watch != nil {
		r.newConns, r.dbSessions, r.connsMethod = watch.stop()
	}
	var all []time.Duration
	for _, st := range stats {
		all = append(all, st.lat...)
		r.errors += st.errors
		r.warmErrors += st.warmErrors
		if r.firstError == "" {
			r.firstError = st.first
		}
	}
	r.requests = len(all)
	slices.Sort(all)
	r.p50, r.p99 = quantile(all, 0.50), quantile(all, 0.99)
	return r, ctx.Err()
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// printTable prints the results as a Markdown table, CPU figures also in
// Ed25519 verifications (request workloads) or argon2id hashes (login,
// signup), whose throughput is also given as a share of what the core
// hashes alone.
func printTable(title string, cal calibration, rs []result) {
	fmt.Printf("\n### %s\n\n", title)
	fmt.Println("| workload | req/s | p50 ms | p99 ms | p99/p50 | errors | server CPU µs/req | in Ed25519 verifications | in argon2id hashes | req/s ÷ core hashes/s | new DB conns (steady) | server run-queue wait ms/s |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		cpu := r.cpuPerRequest()
		hashes, share := "", ""
		if r.name == "login" || r.name == "signup" {
			hashes = fmt.Sprintf("%.2f", cpu.Seconds()/cal.hash.Seconds())
			share = fmt.Sprintf("%.2f", r.rate()*cal.hash.Seconds())
		}
		conns := "n/a"
		if r.connsMethod != "" {
			conns = fmt.Sprint(r.newConns)
			if r.dbSessions >= 0 {
				conns += fmt.Sprintf(" (sessions +%d)", r.dbSessions)
			}
		}
		ratio := 0.0
		if r.p50 > 0 {
			ratio = float64(r.p99) / float64(r.p50)
		}
		errs := fmt.Sprint(r.errors)
		if r.warmErrors > 0 {
			errs += fmt.Sprintf(" (+%d in warm-up)", r.warmErrors)
		}
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %.1f | %s | %.0f | %.2f | %s | %s | %s | %.0f |\n",
			r.name+r.note, r.rate(), ms(r.p50), ms(r.p99), ratio, errs, us(cpu), cpu.Seconds()/cal.verify.Seconds(), hashes, share, conns,
			ms(r.runWait)/r.duration.Seconds())
	}
	for _, r := range rs {
		if r.firstError != "" {
			fmt.Printf("\nfirst error of %s: %s\n", r.name, r.firstError)
		}
	}
}
