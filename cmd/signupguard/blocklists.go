package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/signupguard/signupguard/blocklist"
)

// loadBlocklists builds the Set serve answers from. For each configured
// source, in order: the last good copy stored by the refresh command (in
// stored); else, for a file source, the file itself, so a fresh install
// blocks before its first refresh; else nothing (a URL never fetched). A
// source that fails is logged and skipped. files describes the sources read
// from files, for the metrics. set is nil when none should be served yet:
// lists are configured but none of them loaded.
func loadBlocklists(cfg Config, stored map[string]blocklist.Snapshot, log *slog.Logger) (set *blocklist.Set, files []blocklist.Snapshot) {
	var sources []blocklist.Source
	for _, src := range cfg.Blocklists {
		if s, found := stored[src.Name]; found && s.HasCopy() {
			log.Info("blocklist loaded", "list", src.Name, "fetched_at", s.FetchedAt, "entries", len(s.Prefixes))
			sources = append(sources, blocklist.Source{Name: src.Name, Prefixes: s.Prefixes})
			continue
		}
		if blocklist.IsURL(src.Location) {
			log.Warn("blocklist not loaded yet: run signupguard refresh", "list", src.Name, "url", src.Location)
			continue
		}
		res, err := parseFile(src.Location, cfg.BlocklistMaxBytes)
		if err != nil {
			log.Error("blocklist refused", "list", src.Name, "path", src.Location, "err", err)
			files = append(files, blocklist.Snapshot{Name: src.Name, Location: src.Location, LastError: err.Error()})
			continue
		}
		log.Info("blocklist loaded", "list", src.Name, "path", src.Location,
			"entries", res.Entries, "skipped", res.Skipped, "bad", res.Bad)
		now := time.Now()
		files = append(files, blocklist.Snapshot{Name: src.Name, Location: src.Location, FetchedAt: now, CheckedAt: now, Entries: len(res.Prefixes)})
		sources = append(sources, blocklist.Source{Name: src.Name, Prefixes: res.Prefixes})
	}
	if len(sources) == 0 && len(cfg.Blocklists) > 0 {
		return nil, files
	}
	set, warnings := blocklist.New(sources, blocklist.Options{Allow: cfg.Allowlist, TrustedProxies: cfg.TrustedProxies})
	for _, w := range warnings {
		log.Warn("blocklist covers an address of ours", "list", w.Source, "prefix", w.Prefix.String(),
			"covers", w.Covers+" "+w.Address.String(), "advice", w.String())
	}
	return set, files
}

// parseFile reads and parses a file source as refresh does, gzip and size
// cap included, so a file is served the same before and after its first
// refresh.
func parseFile(path string, maxBytes int64) (blocklist.Result, error) {
	body, err := blocklist.ReadFile(path, maxBytes)
	if err != nil {
		return blocklist.Result{}, err
	}
	res, err := blocklist.Parse(bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}
