package bootstrap

import (
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"example.com/usersvc/ports"
)

// Config is every setting of the service. Load fills it from the environment;
// tests build it with Defaults and change fields.
type Config struct {
	HTTPAddr               string
	DatabaseURL            string
	DataDir                string
	CookieSecure           bool
	AccessTokenTTL         time.Duration
	RefreshTokenTTL        time.Duration
	SessionMaxAge          time.Duration
	RefreshReuseGrace      time.Duration
	RateLimits             bool
	Environment            string
	SigningKeyFiles        []string
	TokenIssuer            string
	TokenAudience          string
	TokenLeeway            time.Duration
	PasswordPolicy         string
	DBMaxOpenConns         int
	DBMaxIdleConns         int
	DBConnMaxLifetime      time.Duration
	DBQueryTimeout         time.Duration
	MigrateOnStart         bool
	LogLevel               string
	LogFormat              string
	ShutdownGrace          time.Duration
	TrustedProxies         []string
	HashMaxConcurrent      int
	HashQueueWait          time.Duration
	Argon2MemoryKiB        uint32
	Argon2Time             uint32
	Argon2Threads          uint8
	CORSOrigins            []string
	RateLimitStore         string
	RedisURL               string
	LimitSignUpPerIP       ports.Limit
	LimitLogInPerIP        ports.Limit
	LimitRefreshPerIP      ports.Limit
	LimitFailedLogIns      ports.Limit
	LimitChatWrites        ports.Limit
	ReadHeaderTimeout      time.Duration
	ReadTimeout            time.Duration
	WriteTimeout           time.Duration
	IdleTimeout            time.Duration
	MaxHeaderBytes         int
	MetricsAddr            string
	ShutdownDrainDelay     time.Duration
	SessionsPerUser        int
	SessionCleanupInterval time.Duration
	EventsNATSURL          string
	EventsPollInterval     time.Duration
	EventsBatchSize        int
	EventsRetention        time.Duration
	EventsRetryMaxBackoff  time.Duration
	GCPercent              int
	MemoryLimitMiB         int
}

// setting is one environment variable: its default, its meaning and how it
// is read into Config. The table drives Load, --help and the README.
type setting struct {
	name, def, help string
	apply           func(c *Config, v string) error
}

// settings is every environment variable the service reads.
var settings = []setting{
	{"HTTP_ADDR", ":8080", "listen address of the HTTP server", func(c *Config, v string) error { c.HTTPAddr = v; return nonEmpty(v) }},
	{"DATABASE_URL", "", "postgres://... selects PostgreSQL; empty selects the embedded SQLite file in DATA_DIR", func(c *Config, v string) error {
		c.DatabaseURL = v
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("must be empty or a postgres:// URL")
		}
		return nil
	}},
	{"DATA_DIR", "./data", "where the SQLite file and a generated development signing key live", func(c *Config, v string) error { c.DataDir = v; return nonEmpty(v) }},
	{"COOKIE_SECURE", "true", "false drops the Secure cookie attribute, for plain-http local work", boolInto(func(c *Config) *bool { return &c.CookieSecure })},
	{"ACCESS_TOKEN_TTL", "15m", "access token lifetime (Go duration)", durationInto(func(c *Config) *time.Duration { return &c.AccessTokenTTL }, time.Second, 24*time.Hour)},
	{"REFRESH_TOKEN_TTL", "168h", "refresh token and session idle lifetime", durationInto(func(c *Config) *time.Duration { return &c.RefreshTokenTTL }, time.Minute, 365*24*time.Hour)},
	{"SESSION_MAX_AGE", "720h", "absolute session lifetime: no refresh extends a session past it", durationInto(func(c *Config) *time.Duration { return &c.SessionMaxAge }, time.Minute, 5*365*24*time.Hour)},
	{"SESSIONS_PER_USER", "50", "most live sessions a user may have; a sign-up or log-in beyond it revokes the least recently used", intInto(func(c *Config) *int { return &c.SessionsPerUser }, 1, 10000)},
	{"SESSION_CLEANUP_INTERVAL", "1h", "how often sessions that ended longer ago than the longest token lifetime are removed (safe on several instances at once); 0 turns the clean-up off", func(c *Config, v string) error {
		if v == "0" {
			c.SessionCleanupInterval = 0
			return nil
		}
		if err := durationInto(func(c *Config) *time.Duration { return &c.SessionCleanupInterval }, time.Second, 24*time.Hour)(c, v); err != nil {
			return fmt.Errorf("must be 0 (off) or a Go duration from 1s to 24h")
		}
		return nil
	}},
	{"EVENTS_NATS_URL", "", "nats://host:4222 publishes events to NATS JetStream (stream USERSVC_EVENTS); empty keeps them in-process", func(c *Config, v string) error {
		c.EventsNATSURL = v
		for _, one := range splitList(v) {
			if u, err := url.Parse(one); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
				return fmt.Errorf("must be empty or nats://host:port (several separated by commas)")
			}
		}
		return nil
	}},
	{"EVENTS_POLL_INTERVAL", "1s", "how often the event relay looks for events that other instances recorded or that are due for a retry (its own instance's commits wake it at once)", durationInto(func(c *Config) *time.Duration { return &c.EventsPollInterval }, 10*time.Millisecond, time.Minute)},
	{"EVENTS_BATCH_SIZE", "100", "most events the relay claims and delivers in one round", intInto(func(c *Config) *int { return &c.EventsBatchSize }, 1, 10000)},
	{"EVENTS_RETENTION", "24h", "how long delivered events stay in the outbox before they are deleted; 0 deletes them at the next purge", durationInto(func(c *Config) *time.Duration { return &c.EventsRetention }, 0, 90*24*time.Hour)},
	{"EVENTS_RETRY_MAX_BACKOFF", "1m", "longest wait before the relay retries an event whose delivery failed (the wait doubles from 1s, or from this value if smaller)", durationInto(func(c *Config) *time.Duration { return &c.EventsRetryMaxBackoff }, 10*time.Millisecond, time.Hour)},
	{"REFRESH_REUSE_GRACE", "10s", "grace period for concurrent refreshes; 0 turns it off", durationInto(func(c *Config) *time.Duration { return &c.RefreshReuseGrace }, 0, 5*time.Minute)},
	{"RATE_LIMITS", "on", "off disables every rate limit (for test benches only)", func(c *Config, v string) error {
		switch v {
		case "on":
			c.RateLimits = true
		case "off":
			c.RateLimits = false
		default:
			return fmt.Errorf("must be on or off")
		}
		return nil
	}},
	{"APP_ENV", "development", "development or production; production refuses to start without SIGNING_KEY_FILES", func(c *Config, v string) error {
		c.Environment = v
		return oneOf(v, "development", "production", "test")
	}},
	{"SIGNING_KEY_FILES", "", "comma-separated PKCS#8 PEM Ed25519 private keys; the last signs, all verify; empty generates one in DATA_DIR (not in production)", func(c *Config, v string) error {
		c.SigningKeyFiles = splitList(v)
		return nil
	}},
	{"TOKEN_ISSUER", "usersvc", "iss claim of issued tokens, checked on verification", func(c *Config, v string) error { c.TokenIssuer = v; return nonEmpty(v) }},
	{"TOKEN_AUDIENCE", "usersvc", "aud claim of issued tokens, checked on verification", func(c *Config, v string) error { c.TokenAudience = v; return nonEmpty(v) }},
	{"TOKEN_LEEWAY", "5s", "clock skew allowed when checking exp, nbf and iat", durationInto(func(c *Config) *time.Duration { return &c.TokenLeeway }, 0, time.Minute)},
	{"PASSWORD_POLICY", "contract", "contract (8-25 characters, four classes) or nist (NIST SP 800-63B-4: 15-128 characters, NFKC)", func(c *Config, v string) error {
		c.PasswordPolicy = v
		return oneOf(v, "contract", "nist")
	}},
	{"DB_MAX_OPEN_CONNS", "10", "database connection pool size", intInto(func(c *Config) *int { return &c.DBMaxOpenConns }, 1, 1000)},
	{"DB_MAX_IDLE_CONNS", "10", "idle connections kept in the pool (as many as DB_MAX_OPEN_CONNS, so a steady load opens no new connections)", intInto(func(c *Config) *int { return &c.DBMaxIdleConns }, 0, 1000)},
	{"DB_CONN_MAX_LIFETIME", "30m", "longest a pooled connection is reused", durationInto(func(c *Config) *time.Duration { return &c.DBConnMaxLifetime }, time.Second, 24*time.Hour)},
	{"DB_QUERY_TIMEOUT", "2s", "deadline for the database work of one request, counted from its arrival (503 when it passes, nothing written); also bounds its wait for a hashing slot and for Redis", durationInto(func(c *Config) *time.Duration { return &c.DBQueryTimeout }, 100*time.Millisecond, time.Minute)},
	{"MIGRATE_ON_START", "true", "apply pending migrations when serve starts", boolInto(func(c *Config) *bool { return &c.MigrateOnStart })},
	{"LOG_LEVEL", "info", "debug, info, warn or error", func(c *Config, v string) error { c.LogLevel = v; return oneOf(v, "debug", "info", "warn", "error") }},
	{"LOG_FORMAT", "json", "json, or text for a terminal", func(c *Config, v string) error { c.LogFormat = v; return oneOf(v, "json", "text") }},
	{"SHUTDOWN_GRACE", "20s", "how long in-flight requests may finish after SIGTERM", durationInto(func(c *Config) *time.Duration { return &c.ShutdownGrace }, 0, 10*time.Minute)},
	{"SHUTDOWN_DRAIN_DELAY", "0s", "after SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes", durationInto(func(c *Config) *time.Duration { return &c.ShutdownDrainDelay }, 0, 5*time.Minute)},
	{"TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs whose X-Forwarded-For is believed; empty trusts none", func(c *Config, v string) error {
		c.TrustedProxies = splitList(v)
		return nil
	}},
	{"HASH_MAX_CONCURRENT", strconv.Itoa(runtime.NumCPU()), "password hashes allowed to run at once (default: number of CPUs)", intInto(func(c *Config) *int { return &c.HashMaxConcurrent }, 1, 1024)},
	{"HASH_QUEUE_WAIT", "2s", "longest a request waits for a hashing slot before 503", durationInto(func(c *Config) *time.Duration { return &c.HashQueueWait }, time.Millisecond, time.Minute)},
	{"ARGON2_MEMORY_KIB", "19456", "argon2id memory per hash in KiB (OWASP: 19456)", uintInto(func(c *Config) *uint32 { return &c.Argon2MemoryKiB }, 8192, 262144)},
	{"ARGON2_TIME", "2", "argon2id passes (OWASP: 2)", uintInto(func(c *Config) *uint32 { return &c.Argon2Time }, 1, 10)},
	{"ARGON2_PARALLELISM", "1", "argon2id lanes (OWASP: 1)", func(c *Config, v string) error {
		var n uint32
		err := uintInto(func(*Config) *uint32 { return &n }, 1, 16)(c, v)
		c.Argon2Threads = uint8(n)
		return err
	}},
	{"CORS_ORIGINS", "", "comma-separated browser origins (https://app.example.com) allowed to call with credentials; never a wildcard", func(c *Config, v string) error {
		c.CORSOrigins = splitList(v)
		for _, o := range c.CORSOrigins {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || o == "*" {
				return fmt.Errorf("must list origins like https://app.example.com")
			}
		}
		return nil
	}},
	{"RATE_LIMIT_STORE", "memory", "memory (one instance) or redis (shared by every instance; needs REDIS_URL)", func(c *Config, v string) error {
		c.RateLimitStore = v
		return oneOf(v, "memory", "redis")
	}},
	{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for RATE_LIMIT_STORE=redis", func(c *Config, v string) error {
		c.RedisURL = v
		if u, err := url.Parse(v); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return fmt.Errorf("must be a redis:// or rediss:// URL")
		}
		return nil
	}},
	{"RATE_LIMIT_SIGNUP_PER_IP", "20/1h", "signups per client IP: N/duration; 0 turns it off", limitInto(func(c *Config) *ports.Limit { return &c.LimitSignUpPerIP })},
	{"RATE_LIMIT_LOGIN_PER_IP", "30/1m", "login attempts per client IP", limitInto(func(c *Config) *ports.Limit { return &c.LimitLogInPerIP })},
	{"RATE_LIMIT_REFRESH_PER_IP", "60/1m", "refreshes per client IP", limitInto(func(c *Config) *ports.Limit { return &c.LimitRefreshPerIP })},
	{"RATE_LIMIT_FAILED_LOGINS", "10/15m", "failed logins per username, then 429 until the window passes", limitInto(func(c *Config) *ports.Limit { return &c.LimitFailedLogIns })},
	{"RATE_LIMIT_CHAT_WRITES_PER_USER", "120/1m", "chats created and messages posted per user", limitInto(func(c *Config) *ports.Limit { return &c.LimitChatWrites })},
	{"HTTP_READ_HEADER_TIMEOUT", "5s", "time to read request headers (slowloris cut-off)", durationInto(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout }, 100*time.Millisecond, time.Minute)},
	{"HTTP_READ_TIMEOUT", "15s", "time to read a whole request", durationInto(func(c *Config) *time.Duration { return &c.ReadTimeout }, 100*time.Millisecond, 10*time.Minute)},
	{"HTTP_WRITE_TIMEOUT", "30s", "time to write a response", durationInto(func(c *Config) *time.Duration { return &c.WriteTimeout }, 100*time.Millisecond, 10*time.Minute)},
	{"HTTP_IDLE_TIMEOUT", "120s", "keep-alive idle time", durationInto(func(c *Config) *time.Duration { return &c.IdleTimeout }, time.Second, time.Hour)},
	{"METRICS_ADDR", "", "serve /metrics on this separate address instead of HTTP_ADDR (e.g. 127.0.0.1:9090)", func(c *Config, v string) error { c.MetricsAddr = v; return nil }},
	{"GC_PERCENT", "400", "Go's garbage-collection target (as GOGC): the heap may grow to 1 + N/100 times what is live before a collection; GOGC in the environment wins", intInto(func(c *Config) *int { return &c.GCPercent }, 25, 10000)},
	{"MEMORY_LIMIT_MIB", "0", "soft memory limit of the Go runtime in MiB (as GOMEMLIMIT): collections run more often as the process nears it; 0 means 64 + 2 × HASH_MAX_CONCURRENT × ARGON2_MEMORY_KIB / 1024; GOMEMLIMIT in the environment wins", intInto(func(c *Config) *int { return &c.MemoryLimitMiB }, 0, 1<<20)},
	{"HTTP_MAX_HEADER_BYTES", "16384", "largest request line and header block; larger gets 431 (the server cuts the connection beyond 1 MiB)", intInto(func(c *Config) *int { return &c.MaxHeaderBytes }, 4096, 1<<20)},
}

// ConfigError names the variable that holds a wrong value and what is allowed.
type ConfigError struct{ Name, Problem string }

func (e *ConfigError) Error() string { return fmt.Sprintf("config: %s %s", e.Name, e.Problem) }

// Defaults returns the configuration with every setting at its default.
func Defaults() Config {
	c, err := Load(func(string) (string, bool) { return "", false })
	if err != nil {
		panic(err) // the defaults table itself is wrong: a programming error
	}
	return c
}

// Load reads every setting through lookup (os.LookupEnv in production),
// using the default where a variable is unset. It fails with a *ConfigError
// for the first wrong value.
func Load(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	for _, s := range settings {
		v, ok := lookup(s.name)
		if !ok {
			v = s.def
		}
		if err := s.apply(&c, strings.TrimSpace(v)); err != nil {
			return Config{}, &ConfigError{Name: s.name, Problem: fmt.Sprintf("is %q: %v", v, err)}
		}
	}
	if c.Environment == "production" && len(c.SigningKeyFiles) == 0 {
		return Config{}, &ConfigError{Name: "SIGNING_KEY_FILES", Problem: "must be set when APP_ENV=production"}
	}
	return c, nil
}

// limitInto reads "N/duration" (e.g. "10/15m"); "0" or "off" turns the limit off.
func limitInto(field func(*Config) *ports.Limit) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "0" || v == "off" {
			*field(c) = ports.Limit{}
			return nil
		}
		n, d, ok := strings.Cut(v, "/")
		events, err1 := strconv.Atoi(n)
		window, err2 := time.ParseDuration(d)
		if !ok || err1 != nil || err2 != nil || events < 0 || window < time.Second {
			return fmt.Errorf("must be N/duration such as 10/15m, or 0 to turn it off")
		}
		*field(c) = ports.Limit{Events: events, Window: window}
		return nil
	}
}

func nonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func boolInto(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		*field(c) = b
		return nil
	}
}

func durationInto(field func(*Config) *time.Duration, lo, hi time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil || d < lo || d > hi {
			return fmt.Errorf("must be a Go duration from %s to %s", lo, hi)
		}
		*field(c) = d
		return nil
	}
}

func intInto(field func(*Config) *int, lo, hi int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

func uintInto(field func(*Config) *uint32, lo, hi uint32) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || uint32(n) < lo || uint32(n) > hi {
			return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
		}
		*field(c) = uint32(n)
		return nil
	}
}

// MemoryLimit is the soft memory limit, in bytes, that serve gives the Go
// runtime: MEMORY_LIMIT_MIB, or when that is 0, 64 MiB plus twice the
// memory of HashMaxConcurrent argon2id hashes at once (the heap that the
// hashes themselves keep live, and as much again of their garbage).
func (c Config) MemoryLimit() int64 {
	if c.MemoryLimitMiB > 0 {
		return int64(c.MemoryLimitMiB) << 20
	}
	return 64<<20 + 2*int64(c.HashMaxConcurrent)*int64(c.Argon2MemoryKiB)<<10
}
