package blocklist_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/sql/sqltest"
)

// clock is a fake time source advancing a second per reading.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// response is what a switchable list server sends next.
type response struct {
	status      int
	contentType string
	etag        string
	body        []byte
	truncate    bool // announce the full length, send half and hang up
}

// switchServer serves whatever response was set last, answering 304 when
// the request's If-None-Match matches the response's ETag.
type switchServer struct {
	mu   sync.Mutex
	resp response
	*httptest.Server
}

func newSwitchServer(t testing.TB) *switchServer {
	s := &switchServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		resp := s.resp
		s.mu.Unlock()
		if resp.etag != "" {
			w.Header().Set("ETag", resp.etag)
			if r.Header.Get("If-None-Match") == resp.etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if resp.contentType != "" {
			w.Header().Set("Content-Type", resp.contentType)
		}
		if resp.truncate {
			w.Header().Set("Content-Length", fmt.Sprint(len(resp.body)))
			w.Write(resp.body[:len(resp.body)/2])
			return
		}
		if resp.status != 0 {
			w.WriteHeader(resp.status)
		}
		w.Write(resp.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *switchServer) set(r response) {
	s.mu.Lock()
	s.resp = r
	s.mu.Unlock()
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	srv := newSwitchServer(t)
	r := blocklist.NewRefresher(blocklist.NewFetcher(blocklist.FetchConfig{}), db, blocklist.RefreshConfig{Now: newClock().Now})
	drop := readList(t, "spamhaus_drop_legacy_2023-10-24.txt")

	srv.set(response{body: drop, etag: `"1"`, contentType: "text/plain"})
	rep := r.Refresh(ctx, "drop", srv.URL)
	if rep.Outcome != blocklist.Updated || rep.Entries != 956 || rep.Err != nil {
		t.Fatalf("first refresh: %v; want updated with 956 entries", rep)
	}
	v1, snaps, err := db.Snapshots(ctx)
	if err != nil || len(snaps) != 1 || len(snaps[0].Prefixes) != 956 {
		t.Fatalf("stored: %d snapshots, err %v; want one of 956 prefixes", len(snaps), err)
	}
	first := snaps[0]
	if first.ETag != `"1"` || first.Bytes != int64(len(drop)) || first.CheckedAt != first.FetchedAt {
		t.Errorf("stored metadata: %+v", first)
	}

	// A 304 changes only the time of the last check.
	rep = r.Refresh(ctx, "drop", srv.URL)
	if rep.Outcome != blocklist.NotModified || rep.Entries != 956 {
		t.Fatalf("second refresh: %v; want not modified", rep)
	}
	v2, snaps, _ := db.Snapshots(ctx)
	if v2 != v1 || !snaps[0].FetchedAt.Equal(first.FetchedAt) || !snaps[0].CheckedAt.After(first.CheckedAt) {
		t.Errorf("after a 304: version %d→%d, fetched %v→%v, checked %v→%v; want only checked to move",
			v1, v2, first.FetchedAt, snaps[0].FetchedAt, first.CheckedAt, snaps[0].CheckedAt)
	}

	// Same content under a new ETag: unchanged, the new ETag kept for next time.
	srv.set(response{body: drop, etag: `"2"`})
	if rep = r.Refresh(ctx, "drop", srv.URL); rep.Outcome != blocklist.Unchanged {
		t.Fatalf("same content: %v; want unchanged", rep)
	}
	if s, _, _ := db.Snapshot(ctx, "drop"); s.ETag != `"2"` {
		t.Errorf("ETag after unchanged content = %q, want the new one", s.ETag)
	}

	// New content is stored, bumps the version, and clears nothing else.
	more := append(bytes.Clone(drop), "198.51.100.0/24 ; SBL999\n"...)
	srv.set(response{body: more, etag: `"3"`})
	if rep = r.Refresh(ctx, "drop", srv.URL); rep.Outcome != blocklist.Updated || rep.Entries != 957 || rep.Previous != 956 {
		t.Fatalf("new content: %v; want updated to 957 from 956", rep)
	}
	v3, _, _ := db.Snapshots(ctx)
	if v3 <= v1 {
		t.Errorf("version after an update = %d, was %d; want it bumped", v3, v1)
	}
}

func TestRefreshGuards(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	srv := newSwitchServer(t)
	r := blocklist.NewRefresher(blocklist.NewFetcher(blocklist.FetchConfig{}), db, blocklist.RefreshConfig{Now: newClock().Now})
	drop := readList(t, "spamhaus_drop_legacy_2023-10-24.txt")
	garbage := strings.Repeat("this is not an address\n", 50) + "192.0.2.1\n"

	tests := []struct {
		name string
		resp response
		want error // nil: any error will do
	}{
		{"Empty", response{}, blocklist.ErrEmpty},
		{"Blank", response{body: []byte("\n \r\n\t\n")}, blocklist.ErrEmpty},
		{"HTMLContentType", response{contentType: "text/html; charset=utf-8", body: []byte("<h1>Maintenance</h1>\n192.0.2.1\n")}, blocklist.ErrHTML},
		{"HTMLAsText", response{contentType: "text/plain", body: []byte("\n<!DOCTYPE html>\n<html><body>Rate limited</body></html>")}, blocklist.ErrHTML},
		{"MostlyUnparseable", response{body: []byte(garbage)}, blocklist.ErrTooManyBad},
		{"NoIPs", response{body: readList(t, "spamhaus_asndrop_2024-02-27.json")}, blocklist.ErrNoEntries},
		{"Truncated", response{body: drop[:len(drop)-100], truncate: true}, blocklist.ErrTruncated},
		{"Shrunk", response{body: readList(t, "firehol_dshield.netset")}, blocklist.ErrShrunk},
		{"ServerError", response{status: 500, body: []byte("oops")}, nil},
	}
	srv.set(response{body: drop})
	if rep := r.Refresh(ctx, "drop", srv.URL); rep.Outcome != blocklist.Updated {
		t.Fatalf("good copy: %v", rep)
	}
	v0, good, _ := db.Snapshots(ctx)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.set(tt.resp)
			rep := r.Refresh(ctx, "drop", srv.URL)
			if rep.Outcome != blocklist.Failed || rep.Err == nil || (tt.want != nil && !errors.Is(rep.Err, tt.want)) {
				t.Fatalf("refresh: %v; want failed with %v", rep, tt.want)
			}
			if rep.Entries != 956 || !strings.Contains(rep.String(), "FAILED") || !strings.Contains(rep.String(), "keeping 956 entries") {
				t.Errorf("report line %q should say it failed and what stays", rep)
			}
			v, snaps, err := db.Snapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s := snaps[0]
			if v != v0 || s.Checksum != good[0].Checksum || len(s.Prefixes) != 956 || !s.FetchedAt.Equal(good[0].FetchedAt) {
				t.Errorf("stored copy changed: version %d→%d, %d prefixes, checksum %.8s→%.8s", v0, v, len(s.Prefixes), good[0].Checksum, s.Checksum)
			}
			if s.LastError != rep.Err.Error() || s.FailedAt.IsZero() {
				t.Errorf("failure not recorded: last error %q, failed at %v", s.LastError, s.FailedAt)
			}
		})
	}

	// A good download afterwards clears the recorded error.
	srv.set(response{body: drop})
	if rep := r.Refresh(ctx, "drop", srv.URL); rep.Outcome != blocklist.Unchanged {
		t.Fatalf("good again: %v; want unchanged", rep)
	}
	if s, _, _ := db.Snapshot(ctx, "drop"); s.LastError != "" {
		t.Errorf("last error after a good check = %q, want none", s.LastError)
	}
}

func TestRefreshShrinkRatio(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	srv := newSwitchServer(t)
	drop := readList(t, "spamhaus_drop_legacy_2023-10-24.txt")
	lines := strings.SplitAfter(string(drop), "\n")

	tests := []struct {
		name      string
		maxShrink float64
		keep      int // data lines kept of the 956 (the header is 4 lines)
		want      blocklist.Outcome
	}{
		{"HalfLostDefault", 0, 478, blocklist.Updated},
		{"MoreThanHalfLostDefault", 0, 477, blocklist.Failed},
		{"TenPercentLost", 0.1, 861, blocklist.Updated},
		{"ElevenPercentLost", 0.1, 850, blocklist.Failed},
		{"GuardOff", 1, 1, blocklist.Updated},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := blocklist.NewRefresher(blocklist.NewFetcher(blocklist.FetchConfig{}), db, blocklist.RefreshConfig{MaxShrink: tt.maxShrink})
			name := fmt.Sprint("drop", i)
			srv.set(response{body: drop})
			if rep := r.Refresh(ctx, name, srv.URL); rep.Outcome != blocklist.Updated {
				t.Fatal(rep)
			}
			srv.set(response{body: []byte(strings.Join(lines[:4+tt.keep], ""))})
			if rep := r.Refresh(ctx, name, srv.URL); rep.Outcome != tt.want {
				t.Fatalf("%d of 956 entries with max shrink %v: %v; want %v", tt.keep, tt.maxShrink, rep, tt.want)
			}
		})
	}
}

func TestRefreshFirstCopyFails(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	r := blocklist.NewRefresher(blocklist.NewFetcher(blocklist.FetchConfig{}), db, blocklist.RefreshConfig{})
	rep := r.Refresh(ctx, "missing", t.TempDir()+"/nope.txt")
	if rep.Outcome != blocklist.Failed || !strings.Contains(rep.String(), "no copy stored yet") {
		t.Fatalf("refresh of a missing file: %q", rep)
	}
	s, found, err := db.Snapshot(ctx, "missing")
	if err != nil || !found || s.HasCopy() || s.LastError == "" {
		t.Fatalf("stored: %+v found %v err %v; want the failure recorded and no copy", s, found, err)
	}
}
