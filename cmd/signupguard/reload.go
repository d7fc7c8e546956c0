package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/sql"
)

// blocklists is serve's blocklist machinery: the admin routes reach the
// sources' state through stored and reload through reloader.
type blocklists struct {
	reloader *blocklist.Reloader
	stored   *storedLists
	stop     func() // ends the background work and waits for it
}

// startBlocklists loads the blocklists into live before serve takes
// requests, then keeps them current in the background: a listener for the
// notifications of the refresh command and a reloader with a periodic
// version check.
func startBlocklists(ctx context.Context, cfg Config, db *sql.DB, live *blocklist.Live, reg prometheus.Registerer, log *slog.Logger) (*blocklists, error) {
	stored := &storedLists{db: db, cfg: cfg, metrics: blocklist.NewMetrics(reg, nil), log: log}
	reloader := blocklist.NewReloader(live, stored, stored.metrics, log, cfg.ReloadInterval)
	if err := reloader.Reload(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { reloader.Run(ctx) })
	// The first connect follows the load above: a version check covers a
	// refresh in between. Every later connect follows an outage, when
	// notifications were lost: reload everything.
	first := true
	wg.Go(func() {
		db.ListenBlocklists(ctx, log, time.Second, func(reconnected bool) {
			if first {
				first, reconnected = false, false
			}
			reloader.Trigger(reconnected)
		})
	})
	return &blocklists{reloader: reloader, stored: stored, stop: func() { cancel(); wg.Wait() }}, nil
}

// storedLists is the blocklist.Loader of serve: the copies stored in
// Postgres, with files standing in for file sources never refreshed (see
// loadBlocklists).
type storedLists struct {
	db      *sql.DB
	cfg     Config
	metrics *blocklist.Metrics
	log     *slog.Logger

	mu    sync.Mutex
	files []blocklist.Snapshot // file sources read directly at the last load
}

var _ blocklist.Loader = (*storedLists)(nil)

// Version reads the blocklist version and, while at it, the sources'
// metadata for the metrics: a refresh that stored nothing new (a 304, a
// failure) changes no version but should show.
func (l *storedLists) Version(ctx context.Context) (int64, error) {
	v, snaps, err := l.db.BlocklistState(ctx)
	if err != nil {
		return 0, err
	}
	l.observe(snaps)
	return v, nil
}

// Load builds a Set from the stored copies and files; nil when lists are
// configured but none could be loaded.
func (l *storedLists) Load(ctx context.Context) (*blocklist.Set, int64, error) {
	v, snaps, err := l.db.Snapshots(ctx)
	if err != nil {
		return nil, 0, err
	}
	stored := make(map[string]blocklist.Snapshot, len(snaps))
	for _, s := range snaps {
		stored[s.Name] = s
	}
	set, files := loadBlocklists(l.cfg, stored, l.log)
	l.mu.Lock()
	l.files = files
	l.mu.Unlock()
	l.observe(snaps)
	return set, v, nil
}

// Sources returns one snapshot per configured source, metadata only: the
// stored one, else the file read directly at the last load, else a source
// never fetched.
func (l *storedLists) Sources(ctx context.Context) ([]blocklist.Snapshot, error) {
	_, snaps, err := l.db.BlocklistState(ctx)
	if err != nil {
		return nil, err
	}
	return l.merge(snaps), nil
}

func (l *storedLists) observe(snaps []blocklist.Snapshot) { l.metrics.Observe(l.merge(snaps)) }

func (l *storedLists) merge(snaps []blocklist.Snapshot) []blocklist.Snapshot {
	byName := map[string]blocklist.Snapshot{}
	l.mu.Lock()
	for _, f := range l.files {
		byName[f.Name] = f
	}
	l.mu.Unlock()
	for _, s := range snaps {
		if _, isFile := byName[s.Name]; !isFile || s.HasCopy() {
			s.Prefixes = nil
			byName[s.Name] = s
		}
	}
	var out []blocklist.Snapshot
	for _, src := range l.cfg.Blocklists {
		s, ok := byName[src.Name]
		if !ok {
			s = blocklist.Snapshot{Name: src.Name, Location: src.Location, LastError: "never fetched: run signupguard refresh"}
		}
		out = append(out, s)
	}
	return out
}
