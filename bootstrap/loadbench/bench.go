package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"example.com/usersvc/ports"
)

// benchPassword is every seeded user's password; it meets the contract's rule.
const benchPassword = "Sup3r$ecret"

// store is the benchmark's own access to the server's database, for seeding
// and for what it watches.
type store interface {
	// passwordHash returns the stored hash of username.
	passwordHash(ctx context.Context, username string) (string, error)
	// addUsers inserts users named name(i) for i in [from, to), all with hash.
	addUsers(ctx context.Context, from, to int, name func(int) string, hash string) error
	watch() connWatch
	close()
}

// actor is one connection's signed-in user: its tokens and its chat.
type actor struct {
	username string
	access   string
	refresh  string
	claims   ports.AccessClaims
	chatID   string
}

// bench is one server under test and what the workloads share.
type bench struct {
	o      options
	srv    *server
	client *http.Client
	keys   *benchKeys
	actors []*actor
	db     store
	run    string // unique per bench, for signup names
}

func userName(i int) string { return fmt.Sprintf("u%07d", i) }

// setUp seeds o.users users (one by signup, the rest in the database with
// that signup's hash, so seeding costs one argon2id hash), signs in one
// user per connection and gives each a chat with 20 messages.
func (b *bench) setUp(ctx context.Context) error {
	first := userName(0)
	if _, err := b.call(ctx, http.MethodPost, "/api/v1/users/signup", "", map[string]string{"username": first, "password": benchPassword}, http.StatusCreated); err != nil {
		return fmt.Errorf("signup: %w", err)
	}
	hash, err := b.db.passwordHash(ctx, strings.ToLower(first))
	if err != nil {
		return err
	}
	if err := b.db.addUsers(ctx, 1, b.o.users, userName, hash); err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	b.actors = make([]*actor, b.o.conns)
	for w := range b.actors {
		a := &actor{username: userName(w % b.o.users)}
		resp, err := b.call(ctx, http.MethodPost, "/api/v1/users/login", "", map[string]string{"username": a.username, "password": benchPassword}, http.StatusOK)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if a.access, a.refresh, err = tokensOf(resp); err != nil {
			return err
		}
		if a.claims, err = b.keys.issuer.VerifyAccess(a.access); err != nil {
			return fmt.Errorf("the server's access token does not verify with the bench key: %w", err)
		}
		chat, err := b.call(ctx, http.MethodPost, "/api/v1/chats", a.access, map[string]string{"title": "bench"}, http.StatusCreated)
		if err != nil {
			return fmt.Errorf("create chat: %w", err)
		}
		var c struct{ ID string }
		if err := json.Unmarshal(chat.body, &c); err != nil || c.ID == "" {
			return fmt.Errorf("create chat: no id in %s", chat.body)
		}
		a.chatID = c.ID
		for i := range 20 {
			if _, err := b.call(ctx, http.MethodPost, "/api/v1/chats/"+c.ID+"/messages", a.access, map[string]string{"body": fmt.Sprintf("message %d of the bench", i)}, http.StatusCreated); err != nil {
				return fmt.Errorf("post message: %w", err)
			}
		}
		b.actors[w] = a
	}
	return nil
}

type answer struct {
	resp *http.Response
	body []byte
}

// call sends one request outside the measured phases.
func (b *bench) call(ctx context.Context, method, path, bearer string, body any, want int) (answer, error) {
	req := b.newRequest(method, path, bearer, body)
	resp, err := b.client.Do(req.WithContext(ctx))
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode != want {
		return answer{}, fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, data)
	}
	return answer{resp: resp, body: data}, nil
}

func (b *bench) newRequest(method, path, bearer string, body any) *http.Request {
	var req *http.Request
	if body != nil {
		data, _ := json.Marshal(body)
		req, _ = http.NewRequest(method, b.srv.base+path, strings.NewReader(string(data)))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(method, b.srv.base+path, nil)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

// tokensOf reads the access token from a Token body and the refresh token
// from its Set-Cookie.
func tokensOf(a answer) (access, refresh string, err error) {
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(a.body, &t); err != nil || t.AccessToken == "" {
		return "", "", fmt.Errorf("no access token in %s", a.body)
	}
	refresh, err = refreshCookie(a.resp)
	return t.AccessToken, refresh, err
}

func refreshCookie(resp *http.Response) (string, error) {
	for _, c := range resp.Cookies() {
		if c.Name == "refresh_token" && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", errors.New("no refresh_token cookie in the answer")
}

// workloads builds the named workloads. meRate, the cached GET /me rate
// already measured (0 if not), sizes the pool of fresh tokens.
func (b *bench) workload(name string, meRate float64) (workload, string, error) {
	switch name {
	case "me":
		return workload{name: name, want: http.StatusOK, request: func(w int) *http.Request {
			return b.newRequest(http.MethodGet, "/api/v1/users/me", b.actors[w].access, nil)
		}}, "", nil
	case "me-fresh":
		if meRate == 0 {
			meRate = 5000
		}
		n := min(int(meRate*1.3*(b.o.warmup+b.o.duration).Seconds()), 400_000)
		pool, err := b.mintAccessTokens(n)
		if err != nil {
			return workload{}, "", err
		}
		var next atomic.Int64
		return workload{name: name, want: http.StatusOK,
				request: func(w int) *http.Request {
					i := next.Add(1) - 1
					return b.newRequest(http.MethodGet, "/api/v1/users/me", pool[i%int64(len(pool))], nil)
				},
				check: func() error {
					if used := next.Load(); used > int64(len(pool)) {
						return fmt.Errorf("fresh tokens ran out (%d requests, %d tokens): some requests reused a token", used, len(pool))
					}
					return nil
				}}, fmt.Sprintf("%d distinct access tokens minted by the service's issuer on the bench key, one per request, over the %d sessions",
				len(pool), len(b.actors)), nil
	case "chat":
		return workload{name: name, want: http.StatusOK, request: func(w int) *http.Request {
			a := b.actors[w]
			return b.newRequest(http.MethodGet, "/api/v1/chats/"+a.chatID+"/messages", a.access, nil)
		}}, "GET /api/v1/chats/{id}/messages, 20 messages, the connection's token reused", nil
	case "refresh":
		return workload{name: name, want: http.StatusOK,
			request: func(w int) *http.Request {
				req := b.newRequest(http.MethodPost, "/api/v1/users/refresh", "", nil)
				req.AddCookie(&http.Cookie{Name: "refresh_token", Value: b.actors[w].refresh})
				return req
			},
			after: func(w int, resp *http.Response, _ []byte) error {
				c, err := refreshCookie(resp)
				if err == nil {
					b.actors[w].refresh = c
				}
				return err
			}}, "each connection its own session, its cookie rotated every request", nil
	case "login":
		var seq atomic.Int64
		return workload{name: name, want: http.StatusOK, request: func(w int) *http.Request {
			i := int(seq.Add(1)) % b.o.users
			return b.newRequest(http.MethodPost, "/api/v1/users/login", "", map[string]string{"username": userName(i), "password": benchPassword})
		}}, fmt.Sprintf("round robin over the %d seeded users", b.o.users), nil
	case "signup":
		var seq atomic.Int64
		return workload{name: name, want: http.StatusCreated, request: func(w int) *http.Request {
			return b.newRequest(http.MethodPost, "/api/v1/users/signup", "", map[string]string{"username": fmt.Sprintf("s%s%d", b.run, seq.Add(1)), "password": benchPassword})
		}}, "a new username each request", nil
	}
	return workload{}, "", fmt.Errorf("unknown workload %q", name)
}

// mintAccessTokens signs n access tokens for the actors' sessions with the
// service's own issuer and the server's key. Each has a random jti, so each
// is distinct bytes the server has never verified; that is checked.
func (b *bench) mintAccessTokens(n int) ([]string, error) {
	pool := make([]string, n)
	seen := make(map[string]struct{}, n)
	for i := range pool {
		a := b.actors[i%len(b.actors)]
		t, err := b.keys.issuer.IssueAccess(ports.AccessClaims{Principal: a.claims.Principal})
		if err != nil {
			return nil, err
		}
		if _, dup := seen[t]; dup {
			return nil, errors.New("minted the same access token twice")
		}
		seen[t] = struct{}{}
		pool[i] = t
	}
	return pool, nil
}

// runWorkloads runs names in order and returns their results.
func (b *bench) runWorkloads(ctx context.Context, names []string) ([]result, error) {
	var out []result
	meRate := 0.0
	for _, name := range names {
		wl, note, err := b.workload(name, meRate)
		if err != nil {
			return out, err
		}
		var watch connWatch
		if b.db != nil {
			watch = b.db.watch()
		}
		r, err := drive(ctx, b.client, b.srv, wl, b.o, watch)
		if err != nil {
			return out, err
		}
		if wl.check != nil {
			if err := wl.check(); err != nil {
				return out, fmt.Errorf("%s: %w", name, err)
			}
		}
		if name == "me" {
			meRate = r.rate()
		}
		fmt.Printf("  %-8s %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  server CPU %5.0f µs/req   (%s)\n",
			name, r.rate(), ms(r.p50), ms(r.p99), r.errors, us(r.cpuPerRequest()), note)
		out = append(out, r)
	}
	return out, nil
}

// printMemory prints the server's idle RSS measured after start and the peak.
func printMemory(idle int64, srv *server) {
	rss, peak := srv.memory()
	fmt.Printf("\nserver RSS: idle after start %.1f MB; now %.1f MB; peak %.1f MB\n", mb(idle), mb(rss), mb(peak))
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// idleRSS waits for the started server to settle and reads its RSS.
func idleRSS(srv *server) int64 {
	time.Sleep(time.Second)
	rss, _ := srv.memory()
	return rss
}

func runSQLite(ctx context.Context, o options, bin string, keys *benchKeys, cal calibration, work string) error {
	dir := filepath.Join(work, "sqlite")
	env := []string{"DATABASE_URL=", "DATA_DIR=" + dir, "SIGNING_KEY_FILES=" + keys.file, "LOG_LEVEL=" + o.logLevel}
	logPath := filepath.Join(work, "sqlite.log")
	srv, err := startServer(ctx, bin, env, o.serverCPU, logPath)
	if err != nil {
		return err
	}
	fmt.Printf("SQLite: server pid %d on CPU %d, ready in %s (first start, migrations)\n", srv.pid(), o.serverCPU, srv.ready.Round(time.Millisecond))
	idle := idleRSS(srv)
	db, err := openSQLite(dir)
	if err != nil {
		srv.stop()
		return err
	}
	b := &bench{o: o, srv: srv, client: newHTTPClient(o.conns), keys: keys, db: db, run: "l" + uuid.NewString()[:8]}
	b.run = strings.ReplaceAll(b.run, "-", "")
	err = b.setUp(ctx)
	var rs []result
	if err == nil {
		rs, err = b.runWorkloads(ctx, o.workloads)
	}
	printMemory(idle, srv)
	srv.stop()
	db.close()
	if err != nil {
		return err
	}
	// Start to ready on the warm file: migrations already applied, the
	// page cache warm; the median of five starts.
	var readies []time.Duration
	for range 5 {
		s, err := startServer(ctx, bin, env, o.serverCPU, logPath)
		if err != nil {
			return err
		}
		readies = append(readies, s.ready)
		s.stop()
	}
	slices.Sort(readies)
	printTable(fmt.Sprintf("SQLite, %d users, %d connections", o.users, o.conns), cal, rs)
	fmt.Printf("\nSQLite start to ready on the warm file (exec to first 200 from /readyz): median %.1f ms of 5 (min %.1f, max %.1f)\n",
		ms(readies[2]), ms(readies[0]), ms(readies[4]))
	fmt.Printf("idle RSS after start: %.1f MB\n\n", mb(idle))
	return nil
}

func runPostgres(ctx context.Context, o options, bin string, keys *benchKeys, cal calibration, work string) error {
	dbURL, err := createBenchDatabase(ctx, o.pgURL)
	if err != nil {
		return err
	}
	if !o.keep {
		defer dropBenchDatabase(o.pgURL)
	}
	serverURL := withParam(dbURL, "application_name", serverAppName)
	env := []string{"DATABASE_URL=" + serverURL, "DATA_DIR=" + filepath.Join(work, "pgdata"), "SIGNING_KEY_FILES=" + keys.file, "LOG_LEVEL=" + o.logLevel}
	srv, err := startServer(ctx, bin, env, o.serverCPU, filepath.Join(work, "postgres.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("PostgreSQL: database %s, server pid %d on CPU %d, ready in %s (first start, migrations)\n", benchDatabase, srv.pid(), o.serverCPU, srv.ready.Round(time.Millisecond))
	idle := idleRSS(srv)
	db, err := openPostgres(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.close()
	b := &bench{o: o, srv: srv, client: newHTTPClient(o.conns), keys: keys, db: db, run: strings.ReplaceAll(uuid.NewString()[:8], "-", "")}
	b.run = "p" + b.run
	if err := b.setUp(ctx); err != nil {
		return err
	}
	rs, err := b.runWorkloads(ctx, o.workloads)
	printMemory(idle, srv)
	if err != nil {
		return err
	}
	printTable(fmt.Sprintf("PostgreSQL, %d users, %d connections", o.users, o.conns), cal, rs)
	fmt.Printf("\nnew DB connections: %s\nidle RSS after start: %.1f MB\n\n", connsMethod, mb(idle))
	if !o.scale {
		return nil
	}
	if err := seedScale(ctx, db.conn, o.scaleU, o.scaleS, o.users); err != nil {
		return fmt.Errorf("scale seed: %w", err)
	}
	scaled, err := b.runWorkloads(ctx, scaleWorkloads)
	if err != nil {
		return err
	}
	printTable(fmt.Sprintf("PostgreSQL at scale: %d + %d users, %d sessions more, %d connections", o.users, o.scaleU, o.scaleS, o.conns), cal, scaled)
	printScaleChange(rs, scaled)
	return explainHotQueries(ctx, db.conn, b.actors[0])
}

// printScaleChange compares each scale figure with the same workload at o.users.
func printScaleChange(base, scaled []result) {
	fmt.Println("\n| workload | req/s change | server CPU/req change | p99 change |")
	fmt.Println("|---|---:|---:|---:|")
	for _, s := range scaled {
		for _, r := range base {
			if r.name == s.name {
				fmt.Printf("| %s | %+.1f %% | %+.1f %% | %+.1f %% |\n", s.name, pct(s.rate(), r.rate()), pct(float64(s.cpuPerRequest()), float64(r.cpuPerRequest())), pct(float64(s.p99), float64(r.p99)))
			}
		}
	}
}

func pct(now, before float64) float64 {
	if before == 0 {
		return 0
	}
	return (now/before - 1) * 100
}

// withParam adds a query parameter to a URL.
func withParam(raw, name, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}
