package sql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/signupguard/signupguard/blocklist"
)

var _ blocklist.SnapshotStore = (*DB)(nil)

// blocklistChannel is the LISTEN/NOTIFY channel that announces a change to
// the stored blocklists. Its payload is the blocklist version.
const blocklistChannel = "signupguard_blocklists"

// The version is bumped only by a new copy, since only a new copy changes
// what instances serve.
const (
	bumpBlocklistVersion = `update blocklist_version set version = version + 1 returning version`
	readBlocklistVersion = `select version from blocklist_version`
	notifyBlocklists     = `select pg_notify('` + blocklistChannel + `', $1)`
)

const snapshotColumns = `name, location, fetched_at, etag, last_modified, entries, bytes, checksum, checked_at, failed_at, last_error`

// Snapshot returns the metadata of source name, without its prefixes.
func (db *DB) Snapshot(ctx context.Context, name string) (blocklist.Snapshot, bool, error) {
	s, err := scanSnapshot(db.Pool.QueryRow(ctx, `select `+snapshotColumns+` from blocklist_sources where name = $1`, name), false)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return blocklist.Snapshot{}, false, nil
	case err != nil:
		return blocklist.Snapshot{}, false, fmt.Errorf("read blocklist %s: %w", name, err)
	}
	return s, true, nil
}

// BlocklistState returns the blocklist version and every source's metadata,
// without prefixes: cheap enough to poll.
func (db *DB) BlocklistState(ctx context.Context) (int64, []blocklist.Snapshot, error) {
	version, snaps, err := db.readSnapshots(ctx, false)
	if err != nil {
		return 0, nil, fmt.Errorf("read blocklist state: %w", err)
	}
	return version, snaps, nil
}

// Snapshots returns every source with its prefixes, and the version they
// make up: one snapshot of the database, so the version matches the copies.
func (db *DB) Snapshots(ctx context.Context) (int64, []blocklist.Snapshot, error) {
	version, snaps, err := db.readSnapshots(ctx, true)
	if err != nil {
		return 0, nil, fmt.Errorf("read blocklists: %w", err)
	}
	return version, snaps, nil
}

// readSnapshots reads the version and the sources in one read-only
// snapshot of the database.
func (db *DB) readSnapshots(ctx context.Context, withPrefixes bool) (version int64, snaps []blocklist.Snapshot, err error) {
	err = pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, readBlocklistVersion).Scan(&version); err != nil {
			return err
		}
		cols := snapshotColumns
		if withPrefixes {
			cols += `, prefixes`
		}
		rows, err := tx.Query(ctx, `select `+cols+` from blocklist_sources order by name`)
		if err != nil {
			return err
		}
		snaps, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (blocklist.Snapshot, error) {
			return scanSnapshot(row, withPrefixes)
		})
		return err
	})
	return version, snaps, err
}

func scanSnapshot(row pgx.Row, withPrefixes bool) (blocklist.Snapshot, error) {
	var s blocklist.Snapshot
	var fetched, checked, failed *time.Time
	var prefixes string
	dest := []any{&s.Name, &s.Location, &fetched, &s.ETag, &s.LastModified, &s.Entries, &s.Bytes, &s.Checksum, &checked, &failed, &s.LastError}
	if withPrefixes {
		dest = append(dest, &prefixes)
	}
	if err := row.Scan(dest...); err != nil {
		return blocklist.Snapshot{}, err
	}
	for _, t := range []struct {
		src *time.Time
		dst *time.Time
	}{{fetched, &s.FetchedAt}, {checked, &s.CheckedAt}, {failed, &s.FailedAt}} {
		if t.src != nil {
			*t.dst = *t.src
		}
	}
	if withPrefixes {
		p, err := decodePrefixes(prefixes)
		if err != nil {
			return blocklist.Snapshot{}, fmt.Errorf("blocklist %s: %w", s.Name, err)
		}
		s.Prefixes = p
	}
	return s, nil
}

const upsertSnapshot = `
insert into blocklist_sources (name, location, fetched_at, etag, last_modified, entries, bytes, checksum, prefixes, checked_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
on conflict (name) do update set
	location = excluded.location, fetched_at = excluded.fetched_at, etag = excluded.etag,
	last_modified = excluded.last_modified, entries = excluded.entries, bytes = excluded.bytes,
	checksum = excluded.checksum, prefixes = excluded.prefixes, checked_at = excluded.checked_at,
	last_error = ''`

// SaveSnapshot stores s as its source's good copy, bumps the version and
// notifies listeners, in one transaction: instances never see the
// notification without the copy, nor a half-written copy.
func (db *DB) SaveSnapshot(ctx context.Context, s blocklist.Snapshot) error {
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, upsertSnapshot, s.Name, s.Location, s.FetchedAt, s.ETag, s.LastModified,
			len(s.Prefixes), s.Bytes, s.Checksum, encodePrefixes(s.Prefixes), s.CheckedAt); err != nil {
			return err
		}
		var version int64
		if err := tx.QueryRow(ctx, bumpBlocklistVersion).Scan(&version); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, notifyBlocklists, fmt.Sprint(version))
		return err
	})
	if err != nil {
		return fmt.Errorf("save blocklist %s: %w", s.Name, err)
	}
	return nil
}

// A check that succeeded may come from a new location serving the same
// content; one that failed leaves the location of the copy in force.
const (
	upsertCheckOK = `
insert into blocklist_sources (name, location, checked_at, etag, last_modified)
values ($1, $2, $3, $4, $5)
on conflict (name) do update set
	location = excluded.location, checked_at = excluded.checked_at, last_error = '',
	etag = case when excluded.etag <> '' then excluded.etag else blocklist_sources.etag end,
	last_modified = case when excluded.last_modified <> '' then excluded.last_modified else blocklist_sources.last_modified end`
	upsertCheckFailed = `
insert into blocklist_sources (name, location, failed_at, last_error)
values ($1, $2, $3, $4)
on conflict (name) do update set failed_at = excluded.failed_at, last_error = excluded.last_error`
)

// SaveCheck records a check that stored no copy and notifies listeners, so
// instances' metrics and admin views show it; the version stays, so they
// do not rebuild their sets.
func (db *DB) SaveCheck(ctx context.Context, c blocklist.Check) error {
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		if c.Err == "" {
			_, err = tx.Exec(ctx, upsertCheckOK, c.Name, c.Location, c.At, c.ETag, c.LastModified)
		} else {
			_, err = tx.Exec(ctx, upsertCheckFailed, c.Name, c.Location, c.At, c.Err)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, notifyBlocklists, "check")
		return err
	})
	if err != nil {
		return fmt.Errorf("save check of blocklist %s: %w", c.Name, err)
	}
	return nil
}

func encodePrefixes(ps []netip.Prefix) string {
	var b strings.Builder
	b.Grow(len(ps) * 16)
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func decodePrefixes(s string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, strings.Count(s, "\n"))
	for line := range strings.Lines(s) {
		p, err := netip.ParsePrefix(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("stored prefixes: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ListenBlocklists holds a connection of its own LISTENing for blocklist
// changes until ctx ends. It calls changed(true) once listening on each new
// connection, since notifications sent while disconnected are lost and the
// caller must reload everything, and changed(false) on each notification.
// After a failure it reconnects, waiting retry at first and doubling up to
// 30s. A panic in changed is logged and the loop goes on.
func (db *DB) ListenBlocklists(ctx context.Context, log *slog.Logger, retry time.Duration, changed func(reconnected bool)) {
	const maxRetry = 30 * time.Second
	wait := retry
	for ctx.Err() == nil {
		listening, err := db.listenOnce(ctx, log, changed)
		if ctx.Err() != nil {
			return
		}
		if listening {
			wait = retry
		}
		log.Warn("blocklist listener disconnected; reconnecting", "err", err, "in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, maxRetry)
	}
}

// listenOnce runs one connection's life. listening reports whether LISTEN
// succeeded on it.
func (db *DB) listenOnce(ctx context.Context, log *slog.Logger, changed func(bool)) (listening bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in blocklist listener", "panic", p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	conn, err := pgx.ConnectConfig(ctx, db.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "listen "+blocklistChannel); err != nil {
		return false, err
	}
	log.Info("blocklist listener connected")
	call(log, changed, true)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		call(log, changed, false)
	}
}

// call runs changed, logging a panic instead of ending the listener.
func call(log *slog.Logger, changed func(bool), reconnected bool) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic in blocklist change handler", "panic", p)
		}
	}()
	changed(reconnected)
}
