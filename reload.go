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

// startBlocklists loads the blocklists into live before serve takes
// requests, then keeps them current in the background: a listener for the
// notifications of the refresh command and a reloader with a periodic
// version check. stop ends both and waits for them.
func startBlocklists(ctx context.Context, cfg Config, db *sql.DB, live *blocklist.Live, reg prometheus.Registerer, log *slog.Logger) (stop func(), err error) {
	lists := &storedLists{db: db, cfg: cfg, metrics: blocklist.NewMetrics(reg, nil), log: log}
	reloader := blocklist.NewReloader(live, lists, lists.metrics, log, cfg.ReloadInterval)
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
	return func() { cancel(); wg.Wait() }, nil
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
	set, files, _ := loadBlocklists(l.cfg, stored, l.log)
	l.mu.Lock()
	l.files = files
	l.mu.Unlock()
	l.observe(snaps)
	return set, v, nil
}

// observe hands the metrics one snapshot per configured source: the stored
// one, else the file read directly, else a source never fetched.
func (l *storedLists) observe(snaps []blocklist.Snapshot) {
	byName := map[string]blocklist.Snapshot{}
	l.mu.Lock()
	for _, f := range l.files {
		byName[f.Name] = f
	}
	l.mu.Unlock()
	for _, s := range snaps {
		if _, isFile := byName[s.Name]; !isFile || s.HasCopy() {
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
	l.metrics.Observe(out)
}
