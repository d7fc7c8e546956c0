package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/signupguard/signupguard/blocklist"
)

// loadFileBlocklists parses the file sources of cfg.Blocklists and builds a
// Set of those that parsed. URL sources are left to the refresh command,
// which stores them in Postgres. A source that fails is logged and skipped.
// ok is false when no Set should be served yet: lists are configured but
// none of them loaded.
func loadFileBlocklists(cfg Config, log *slog.Logger) (set *blocklist.Set, ok bool) {
	var sources []blocklist.Source
	for _, src := range cfg.Blocklists {
		if src.IsURL() {
			log.Warn("blocklist not loaded yet: run signupguard refresh", "list", src.Name, "url", src.Location)
			continue
		}
		res, err := parseFile(src.Location)
		if err != nil {
			log.Error("blocklist refused", "list", src.Name, "path", src.Location, "err", err)
			continue
		}
		log.Info("blocklist loaded", "list", src.Name, "path", src.Location,
			"entries", res.Entries, "skipped", res.Skipped, "bad", res.Bad)
		sources = append(sources, blocklist.Source{Name: src.Name, Prefixes: res.Prefixes})
	}
	if len(sources) == 0 && len(cfg.Blocklists) > 0 {
		return nil, false
	}
	set, warnings := blocklist.New(sources, blocklist.Options{Allow: cfg.Allowlist, TrustedProxies: cfg.TrustedProxies})
	for _, w := range warnings {
		log.Warn("blocklist covers an address of ours", "list", w.Source, "prefix", w.Prefix.String(),
			"covers", w.Covers+" "+w.Address.String(), "advice", w.String())
	}
	return set, true
}

func parseFile(path string) (blocklist.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return blocklist.Result{}, err
	}
	defer f.Close()
	res, err := blocklist.Parse(f)
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}
