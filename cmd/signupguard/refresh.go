package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/signupguard/signupguard/blocklist"
)

// refresh fetches every configured blocklist source once and stores what
// passes the guards; running instances reload on the notification the store
// sends. It prints one line per source and fails when any source failed.
func refresh(ctx context.Context, cfg Config, stdout io.Writer) error {
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	r := blocklist.NewRefresher(
		blocklist.NewFetcher(blocklist.FetchConfig{Timeout: cfg.RefreshTimeout, MaxBytes: cfg.BlocklistMaxBytes}),
		db, blocklist.RefreshConfig{MaxShrink: cfg.BlocklistMaxShrink})
	sources := cfg.Blocklists
	if len(sources) == 0 {
		fmt.Fprintln(stdout, "no blocklist sources configured (SIGNUPGUARD_BLOCKLISTS)")
		return nil
	}
	tty := isTerminal(stdout)
	failed := 0
	for _, src := range sources {
		if tty {
			fmt.Fprintf(stdout, "%s: fetching %s ...", src.Name, src.Location)
		}
		rep := r.Refresh(ctx, src.Name, src.Location)
		if tty {
			io.WriteString(stdout, "\r\033[K") // replace the progress line
		}
		fmt.Fprintln(stdout, rep)
		if rep.Outcome == blocklist.Failed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("refresh: %d of %d blocklist sources failed; their last good copies stay in force", failed, len(sources))
	}
	return nil
}

// isTerminal reports whether w is a terminal, where progress is shown; cron
// logs get plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
