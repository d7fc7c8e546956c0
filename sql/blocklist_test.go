package sql_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/sql/sqltest"
)

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	s := blocklist.Snapshot{Name: "a", Location: "https://example.org/a.txt", FetchedAt: at, CheckedAt: at,
		Validators: blocklist.Validators{ETag: `"x"`, LastModified: "Fri, 04 Dec 2026 11:00:00 GMT"},
		Entries:    3, Bytes: 50, Checksum: "abc", Prefixes: prefixes}
	if err := db.SaveSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	version, snaps, err := db.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := snaps[0]
	if version != 1 || len(snaps) != 1 || !slices.Equal(got.Prefixes, prefixes) || !got.FetchedAt.Equal(at) ||
		got.ETag != s.ETag || got.LastModified != s.LastModified || got.Entries != 3 || got.Checksum != "abc" || got.Location != s.Location {
		t.Fatalf("read back version %d: %+v", version, got)
	}

	// A failure keeps the copy and its location; the version stays.
	fail := blocklist.Check{Name: "a", Location: "https://elsewhere.example/a.txt", At: at.Add(time.Hour), Err: "boom"}
	if err := db.SaveCheck(ctx, fail); err != nil {
		t.Fatal(err)
	}
	v2, meta, err := db.BlocklistState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := meta[0]
	if v2 != version || m.Location != s.Location || m.LastError != "boom" || !m.FailedAt.Equal(fail.At) || m.Prefixes != nil || m.Entries != 3 {
		t.Fatalf("after a failure: version %d, %+v", v2, m)
	}

	// A good check clears the error and moves only the check time.
	ok := blocklist.Check{Name: "a", Location: s.Location, At: at.Add(2 * time.Hour)}
	if err := db.SaveCheck(ctx, ok); err != nil {
		t.Fatal(err)
	}
	m, found, err := db.Snapshot(ctx, "a")
	if err != nil || !found || m.LastError != "" || !m.CheckedAt.Equal(ok.At) || !m.FetchedAt.Equal(at) || m.ETag != s.ETag {
		t.Fatalf("after a good check: %+v (found %v, err %v)", m, found, err)
	}
	if _, found, err := db.Snapshot(ctx, "b"); found || err != nil {
		t.Fatalf("unknown source: found %v, err %v", found, err)
	}
}

func TestListenBlocklists(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db := sqltest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	events := make(chan bool, 16)
	panicked := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.ListenBlocklists(ctx, log, 10*time.Millisecond, func(reconnected bool) {
			events <- reconnected
			if !reconnected && !panicked {
				panicked = true
				panic("handler bug")
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	next := func(want bool, why string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("%s: changed(%v), want changed(%v)", why, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no call of changed(%v) within 10s", why, want)
		}
	}
	next(true, "listening")
	save := blocklist.Snapshot{Name: "a", Location: "/a", FetchedAt: time.Now(), Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	if err := db.SaveSnapshot(ctx, save); err != nil {
		t.Fatal(err)
	}
	next(false, "after a new copy (the handler panics)")
	if err := db.SaveCheck(ctx, blocklist.Check{Name: "a", Location: "/a", At: time.Now(), Err: "x"}); err != nil {
		t.Fatal(err)
	}
	next(false, "after a check, with the listener still running")

	// A dropped connection is followed by a reconnect and changed(true).
	if _, err := db.Pool.Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
		where datname = current_database() and query = 'listen signupguard_blocklists'`); err != nil {
		t.Fatal(err)
	}
	next(true, "after the connection was killed")
	if err := db.SaveSnapshot(ctx, save); err != nil {
		t.Fatal(err)
	}
	next(false, "after a new copy, on the new connection")
}
