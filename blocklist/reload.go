package blocklist

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Loader reads the stored lists for a Reloader.
type Loader interface {
	// Version returns a number that changes whenever the stored lists do.
	Version(ctx context.Context) (int64, error)
	// Load builds a new Set from the stored lists and returns the version
	// it reflects (read before the lists, so a change in between is seen
	// again at the next check). A nil Set means there is nothing to serve
	// yet: the Live is left as it is.
	Load(ctx context.Context) (*Set, int64, error)
}

// DefaultReloadInterval is how often a Reloader compares versions when no
// notification comes: the bound on staleness after a lost NOTIFY.
const DefaultReloadInterval = 30 * time.Second

// reloadTimeout bounds one load: a stuck database must not stall the loop.
const reloadTimeout = 2 * time.Minute

// Reloader keeps a Live set in step with the stored lists. Sets are built
// on the Reloader's goroutine, never on the request path, and swapped in
// whole; a failed load keeps the set in force.
type Reloader struct {
	live     *Live
	loader   Loader
	metrics  *Metrics
	log      *slog.Logger
	interval time.Duration

	wake  chan struct{}
	force atomic.Bool

	mu     sync.Mutex // serialises loads
	loaded int64      // version of the set in force
}

// NewReloader returns a Reloader that swaps sets into live. An interval of
// zero means DefaultReloadInterval; metrics may be nil.
func NewReloader(live *Live, loader Loader, metrics *Metrics, log *slog.Logger, interval time.Duration) *Reloader {
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	return &Reloader{live: live, loader: loader, metrics: metrics, log: log, interval: interval, wake: make(chan struct{}, 1)}
}

// Reload loads the stored lists and swaps the new set in, whatever the
// version. On error the set in force stays.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	set, version, err := r.loader.Load(ctx)
	if err != nil {
		r.metrics.reloaded(false)
		return fmt.Errorf("reload blocklists: %w", err)
	}
	r.loaded = version
	r.metrics.reloaded(true)
	if set == nil {
		r.log.Warn("no blocklist to load yet", "version", version)
		return nil
	}
	r.live.Swap(set)
	r.log.Info("blocklists loaded", "version", version)
	return nil
}

// Trigger asks Run to check the version now; with force, to reload whatever
// the version (after a reconnect, when notifications may have been lost).
// It never blocks, so a listener may call it from its receive loop.
func (r *Reloader) Trigger(force bool) {
	if force {
		r.force.Store(true)
	}
	select {
	case r.wake <- struct{}{}:
	default: // a check is already pending
	}
}

// Run checks for changes on every Trigger and every interval until ctx
// ends. A panic in a check is logged and the loop goes on.
func (r *Reloader) Run(ctx context.Context) {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
		r.check(ctx)
	}
}

func (r *Reloader) check(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic in blocklist reload", "panic", p)
		}
	}()
	if !r.force.Swap(false) {
		vctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		v, err := r.loader.Version(vctx)
		cancel()
		if err != nil {
			r.log.Warn("blocklist version check failed", "err", err)
			return
		}
		r.mu.Lock()
		same := v == r.loaded
		r.mu.Unlock()
		if same {
			r.log.Debug("blocklist version unchanged", "version", v)
			return
		}
	}
	if err := r.Reload(ctx); err != nil {
		r.log.Error("blocklist reload failed; the lists in force stay", "err", err)
	}
}
