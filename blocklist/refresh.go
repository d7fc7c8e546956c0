package blocklist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/netip"
	"time"
)

// Errors of the refresh guards. Each refuses a download that looks broken,
// and the last good copy stays in force.
var (
	ErrEmpty  = errors.New("blocklist: empty download")
	ErrHTML   = errors.New("blocklist: download is an HTML page, not a list")
	ErrShrunk = errors.New("blocklist: list shrank beyond the allowed ratio")
)

// Snapshot is what is stored of one source: its last good copy and the
// record of the latest checks.
type Snapshot struct {
	Name     string
	Location string

	// Of the last good copy; zero FetchedAt means there is none.
	FetchedAt time.Time // when its content was downloaded
	Validators
	Entries  int
	Bytes    int64
	Checksum string         // SHA-256 of the decoded body, hex
	Prefixes []netip.Prefix // nil when read as metadata only

	CheckedAt time.Time // the last check that succeeded (stored, 304 or same content)
	FailedAt  time.Time // the last check that failed
	LastError string    // why it failed; "" when the last check succeeded
}

// HasCopy reports whether a good copy of the source is stored.
func (s Snapshot) HasCopy() bool { return !s.FetchedAt.IsZero() }

// Check records a refresh that stored no new copy.
type Check struct {
	Name     string
	Location string
	At       time.Time
	// Validators, when not empty, replace the stored ones (a server may
	// send a new ETag with a 304 or with unchanged content).
	Validators
	Err string // "" for a success (304 or unchanged content)
}

// SnapshotStore keeps snapshots. Implementations store and announce each
// change atomically, so serving instances reload only complete copies.
type SnapshotStore interface {
	// Snapshot returns the metadata of source name, Prefixes left nil;
	// found is false when nothing is stored for it.
	Snapshot(ctx context.Context, name string) (s Snapshot, found bool, err error)
	// SaveSnapshot replaces the good copy of s.Name with s and clears its
	// last error.
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// SaveCheck records c, keeping the good copy as it is.
	SaveCheck(ctx context.Context, c Check) error
}

// RefreshConfig holds the refresh guards' settings.
type RefreshConfig struct {
	// MaxShrink is the largest fraction of entries a list may lose against
	// its last good copy in one refresh: 0.5 refuses a list that lost more
	// than half. Zero or less means 0.5; 1 or more turns the guard off.
	MaxShrink float64
	Now       func() time.Time // time.Now when nil
}

// Outcome says what a refresh of one source did.
type Outcome int

const (
	Updated     Outcome = iota + 1 // a new copy was stored
	Unchanged                      // downloaded, same content as the stored copy
	NotModified                    // the server answered 304
	Failed                         // refused or failed; the last good copy stays
)

func (o Outcome) String() string {
	switch o {
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	case NotModified:
		return "not modified"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Report says what Refresh did with one source.
type Report struct {
	Name     string
	Outcome  Outcome
	Entries  int       // of the copy now in force
	Previous int       // entries of the copy before, 0 when none
	Bytes    int64     // downloaded, decoded
	KeptFrom time.Time // on failure: when the copy still in force was fetched (zero: none)
	Took     time.Duration
	Err      error // set when Outcome is Failed
}

// String is the one line the refresh command prints for r.
func (r Report) String() string {
	took := r.Took.Round(time.Millisecond)
	switch r.Outcome {
	case Updated:
		if r.Previous == 0 {
			return fmt.Sprintf("%s: updated, %d entries (%d bytes, %s)", r.Name, r.Entries, r.Bytes, took)
		}
		return fmt.Sprintf("%s: updated, %d entries, was %d (%d bytes, %s)", r.Name, r.Entries, r.Previous, r.Bytes, took)
	case Unchanged, NotModified:
		return fmt.Sprintf("%s: %s, %d entries (%s)", r.Name, r.Outcome, r.Entries, took)
	}
	kept := "no copy stored yet"
	if !r.KeptFrom.IsZero() {
		kept = fmt.Sprintf("keeping %d entries fetched %s", r.Entries, r.KeptFrom.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s: FAILED: %v; %s (%s)", r.Name, r.Err, kept, took)
}

// Refresher runs the refresh job: fetch, parse, guard, store.
type Refresher struct {
	fetch *Fetcher
	store SnapshotStore
	cfg   RefreshConfig
}

// NewRefresher returns a Refresher downloading with f and storing in store.
func NewRefresher(f *Fetcher, store SnapshotStore, cfg RefreshConfig) *Refresher {
	if cfg.MaxShrink <= 0 {
		cfg.MaxShrink = 0.5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Refresher{fetch: f, store: store, cfg: cfg}
}

// Refresh fetches source name from location and stores it if it passes
// every guard. A failure is recorded in the store (when the store answers)
// and returned in the Report; it never touches the stored copy.
func (r *Refresher) Refresh(ctx context.Context, name, location string) Report {
	start := r.cfg.Now()
	rep := Report{Name: name}
	prev, _, err := r.store.Snapshot(ctx, name)
	if err != nil {
		rep.Outcome, rep.Err = Failed, fmt.Errorf("read stored copy: %w", err)
		rep.Took = r.cfg.Now().Sub(start)
		return rep
	}
	rep.Entries, rep.Previous, rep.KeptFrom = prev.Entries, prev.Entries, prev.FetchedAt

	snap, outcome, err := r.fetchAndCheck(ctx, name, location, prev)
	rep.Bytes = snap.Bytes
	now := r.cfg.Now()
	switch {
	case err != nil:
		rep.Outcome, rep.Err = Failed, err
		if serr := r.store.SaveCheck(ctx, Check{Name: name, Location: location, At: now, Err: err.Error()}); serr != nil {
			rep.Err = fmt.Errorf("%w (and recording the failure: %v)", err, serr)
		}
	case outcome == Updated:
		snap.FetchedAt, snap.CheckedAt = now, now
		if err := r.store.SaveSnapshot(ctx, snap); err != nil {
			rep.Outcome, rep.Err = Failed, fmt.Errorf("store: %w", err)
			break
		}
		rep.Outcome, rep.Entries, rep.KeptFrom = Updated, snap.Entries, time.Time{}
	default:
		c := Check{Name: name, Location: location, At: now, Validators: snap.Validators}
		if err := r.store.SaveCheck(ctx, c); err != nil {
			rep.Outcome, rep.Err = Failed, fmt.Errorf("store: %w", err)
			break
		}
		rep.Outcome = outcome
	}
	rep.Took = r.cfg.Now().Sub(start)
	return rep
}

// fetchAndCheck downloads and parses a source and applies the guards. The
// Snapshot it returns for Updated lacks only the times.
func (r *Refresher) fetchAndCheck(ctx context.Context, name, location string, prev Snapshot) (Snapshot, Outcome, error) {
	hasCopy := prev.HasCopy()
	var v Validators
	if hasCopy && prev.Location == location {
		v = prev.Validators
	}
	d, err := r.fetch.Fetch(ctx, location, v)
	if err != nil {
		return Snapshot{}, Failed, err
	}
	if d.NotModified {
		if v == (Validators{}) {
			return Snapshot{}, Failed, fmt.Errorf("server answered 304 Not Modified to an unconditional request")
		}
		return Snapshot{Validators: d.Validators}, NotModified, nil
	}
	sum := sha256.Sum256(d.Body)
	snap := Snapshot{
		Name:       name,
		Location:   location,
		Validators: d.Validators,
		Bytes:      int64(len(d.Body)),
		Checksum:   hex.EncodeToString(sum[:]),
	}
	if hasCopy && snap.Checksum == prev.Checksum {
		return snap, Unchanged, nil
	}
	if err := checkBody(d); err != nil {
		return snap, Failed, err
	}
	res, err := Parse(bytes.NewReader(d.Body))
	if err != nil {
		return snap, Failed, fmt.Errorf("parse: %w", err)
	}
	snap.Prefixes = res.Prefixes
	snap.Entries = len(res.Prefixes)
	if hasCopy && r.cfg.MaxShrink < 1 && float64(snap.Entries) < float64(prev.Entries)*(1-r.cfg.MaxShrink) {
		return snap, Failed, fmt.Errorf("%d entries, was %d (more than %.0f%% lost): %w",
			snap.Entries, prev.Entries, r.cfg.MaxShrink*100, ErrShrunk)
	}
	return snap, Updated, nil
}

// checkBody refuses what no list looks like: nothing at all, or an HTML page
// (a captive portal, a login wall, an error page served with 200).
func checkBody(d Download) error {
	body := bytes.TrimSpace(bytes.TrimPrefix(d.Body, []byte("\xef\xbb\xbf")))
	if len(body) == 0 {
		return ErrEmpty
	}
	if mt, _, err := mime.ParseMediaType(d.ContentType); err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
		return ErrHTML
	}
	head := bytes.ToLower(body[:min(len(body), 512)])
	for _, tag := range []string{"<!doctype html", "<html", "<head", "<body", "<?xml"} {
		if bytes.HasPrefix(head, []byte(tag)) {
			return ErrHTML
		}
	}
	return nil
}
