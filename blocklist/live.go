package blocklist

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
)

// ErrNotLoaded is Live.Ready's answer before the first Set is swapped in.
var ErrNotLoaded = errors.New("blocklists not loaded yet")

// Live is the Set in service. Readers load it with one atomic read and
// never lock; a reload builds a whole new Set and swaps it in, so no reader
// ever sees a half-built one. The zero Live holds no Set and blocks nothing.
type Live struct {
	set atomic.Pointer[Set]
}

// Lookup asks the current Set; with none loaded, nothing is listed.
func (l *Live) Lookup(ip netip.Addr) (source string, prefix netip.Prefix, found bool) {
	s := l.set.Load()
	if s == nil {
		return "", netip.Prefix{}, false
	}
	return s.Lookup(ip)
}

// Swap publishes s and returns the Set it replaces (nil the first time).
func (l *Live) Swap(s *Set) *Set {
	return l.set.Swap(s)
}

// Load returns the current Set, or nil before the first Swap.
func (l *Live) Load() *Set {
	return l.set.Load()
}

// Ready returns ErrNotLoaded until a Set has been swapped in. Its signature
// fits a readiness check.
func (l *Live) Ready(ctx context.Context) error {
	if l.set.Load() == nil {
		return ErrNotLoaded
	}
	return nil
}
