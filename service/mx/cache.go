package mx

import (
	"sync"
	"time"
)

// cacheEntry is a remembered verdict: nil (deliverable) or the
// *service.Error to return, until expires, and the answers it rests on.
type cacheEntry struct {
	err     error
	expires time.Time
	ev      *evidence
}

// evictSample is how many entries a full cache looks at to make room.
const evictSample = 8

// cache maps domains to verdicts, holding at most max entries.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cacheEntry
}

func newCache(max int) *cache {
	return &cache{max: max, entries: map[string]cacheEntry{}}
}

// get returns the live entry for key.
func (c *cache) get(key string, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !now.Before(e.expires) {
		delete(c.entries, key)
		return cacheEntry{}, false
	}
	return e, ok
}

// put stores e under key. A full cache first drops the expired entries
// among a few it looks at, or else one of them: map iteration starts at a
// random place, so that is a random eviction, constant in cost however
// many domains a flood of signups names.
func (c *cache) put(key string, e cacheEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		seen, victim := 0, ""
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			} else if victim == "" {
				victim = k
			}
			if seen++; seen == evictSample {
				break
			}
		}
		if len(c.entries) >= c.max {
			delete(c.entries, victim)
		}
	}
	c.entries[key] = e
}
