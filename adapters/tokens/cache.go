package tokens

import (
	"sync"
	"time"

	"example.com/usersvc/ports"
)

// DefaultVerifiedCacheSize is how many verified access tokens an Issuer
// remembers when Options.VerifiedCacheSize is zero: a few megabytes at most.
const DefaultVerifiedCacheSize = 8192

// verifiedCache remembers access tokens that passed every check, keyed by
// their exact text, so that a token presented again (a client's next
// request) is not verified again: its signature is the same bytes and its
// claims do not change. An entry counts only until its token expires (with
// the verifier's leeway), so a cache hit never accepts a token the full
// check would refuse. It belongs to one Issuer, whose Keyring never
// changes: retiring a key means a new Issuer (a restart), with an empty
// cache. At most size entries are kept; when full, expired ones are dropped,
// then, if still full, every entry. Safe for concurrent use.
type verifiedCache struct {
	size   int
	leeway time.Duration

	mu      sync.RWMutex
	entries map[string]ports.AccessClaims
}

func newVerifiedCache(size int, leeway time.Duration) *verifiedCache {
	return &verifiedCache{size: size, leeway: leeway, entries: make(map[string]ports.AccessClaims)}
}

// get returns the claims of token if it was verified and has not expired at
// now.
func (c *verifiedCache) get(token string, now time.Time) (ports.AccessClaims, bool) {
	if c.size <= 0 {
		return ports.AccessClaims{}, false
	}
	c.mu.RLock()
	claims, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok || now.After(claims.ExpiresAt.Add(c.leeway)) {
		return ports.AccessClaims{}, false
	}
	return claims, true
}

// put remembers a token that has just passed every check.
func (c *verifiedCache) put(token string, claims ports.AccessClaims, now time.Time) {
	if c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		for t, cl := range c.entries {
			if now.After(cl.ExpiresAt.Add(c.leeway)) {
				delete(c.entries, t)
			}
		}
		if len(c.entries) >= c.size {
			clear(c.entries)
		}
	}
	c.entries[token] = claims
}

// len reports how many tokens are remembered, for tests.
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
