package blocklist_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signupguard/signupguard/blocklist"
)

// loaderFunc is a Loader from functions: the store behind it is tested in
// package sql and end to end in package main.
type loaderFunc struct {
	version func(ctx context.Context) (int64, error)
	load    func(ctx context.Context) (*blocklist.Set, int64, error)
}

func (l loaderFunc) Version(ctx context.Context) (int64, error) { return l.version(ctx) }
func (l loaderFunc) Load(ctx context.Context) (*blocklist.Set, int64, error) {
	return l.load(ctx)
}

// lockedBuffer is a log sink safe for the Reloader's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// setOf returns a Set in which every addr is listed by source name.
func setOf(name string, addrs ...string) *blocklist.Set {
	var ps []netip.Prefix
	for _, a := range addrs {
		ps = append(ps, netip.PrefixFrom(netip.MustParseAddr(a), 32))
	}
	s, _ := blocklist.New([]blocklist.Source{{Name: name, Prefixes: ps}}, blocklist.Options{})
	return s
}

// wait receives from ch or fails after a deadline.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// logEvents is a slog.Handler that hands each message on: the Reloader logs
// after each step is done, so a test waiting for the message knows the step
// is over (a swap included).
type logEvents struct {
	msgs chan string
	all  *lockedBuffer
}

func (h logEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h logEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logEvents) WithGroup(string) slog.Handler            { return h }
func (h logEvents) Handle(ctx context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	fmt.Fprintln(h.all, line)
	h.msgs <- r.Message
	return nil
}

func TestReloader(t *testing.T) {
	var version, loads atomic.Int64
	var mode atomic.Value // "", "error", "panic-load", "panic-version"
	mode.Store("")
	loader := loaderFunc{
		version: func(ctx context.Context) (int64, error) {
			if mode.Load() == "panic-version" {
				panic("version bug")
			}
			return version.Load(), nil
		},
		load: func(ctx context.Context) (*blocklist.Set, int64, error) {
			loads.Add(1)
			v := version.Load()
			switch mode.Load() {
			case "error":
				return nil, 0, errors.New("database down")
			case "panic-load":
				panic("load bug")
			}
			return setOf(fmt.Sprint("v", v), fmt.Sprintf("192.0.2.%d", v)), v, nil
		},
	}
	var live blocklist.Live
	logs := logEvents{msgs: make(chan string, 64), all: &lockedBuffer{}}
	// An hour: only Trigger wakes it, so every check below is one we asked for.
	r := blocklist.NewReloader(&live, loader, nil, slog.New(logs), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	next := func(want string) {
		t.Helper()
		if got := wait(t, logs.msgs, want); got != want {
			t.Fatalf("logged %q, want %q; log:\n%s", got, want, logs.all.String())
		}
	}
	listed := func(v int64) bool {
		src, _, found := live.Lookup(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", v)))
		return found && src == fmt.Sprint("v", v)
	}
	next("blocklists loaded")
	if !listed(0) {
		t.Fatal("first set not in force")
	}

	// Same version: checked, not loaded.
	r.Trigger(false)
	next("blocklist version unchanged")
	if loads.Load() != 1 {
		t.Fatalf("%d loads, want 1: an unchanged version was loaded again", loads.Load())
	}
	// New version: loaded and swapped.
	version.Store(1)
	r.Trigger(false)
	next("blocklists loaded")
	if !listed(1) || listed(0) {
		t.Fatalf("after version 1: v1 listed %v, v0 listed %v", listed(1), listed(0))
	}
	// Forced: loaded though the version is the same.
	r.Trigger(true)
	next("blocklists loaded")
	if loads.Load() != 3 {
		t.Fatalf("%d loads, want 3", loads.Load())
	}

	// A failed load, and panics in either call, keep the set in force and the loop running.
	for _, tt := range []struct{ mode, msg string }{
		{"error", "blocklist reload failed; the lists in force stay"},
		{"panic-load", "panic in blocklist reload"},
		{"panic-version", "panic in blocklist reload"},
	} {
		mode.Store(tt.mode)
		version.Store(version.Load() + 1)
		r.Trigger(false)
		next(tt.msg)
		if !listed(1) {
			t.Fatalf("%s: the set in force was dropped", tt.mode)
		}
	}
	mode.Store("")
	r.Trigger(false)
	next("blocklists loaded")
	if !listed(version.Load()) {
		t.Fatalf("after the panics: version %d not in force", version.Load())
	}
	for _, bug := range []string{"load bug", "version bug"} {
		if !strings.Contains(logs.all.String(), bug) {
			t.Errorf("panic %q not logged:\n%s", bug, logs.all.String())
		}
	}
}

// TestReloaderInterval: with no Trigger at all, the periodic check alone
// picks up a change (the fallback for a lost notification).
func TestReloaderInterval(t *testing.T) {
	var version atomic.Int64
	loaded := make(chan int64, 1)
	loader := loaderFunc{
		version: func(ctx context.Context) (int64, error) { return version.Load(), nil },
		load: func(ctx context.Context) (*blocklist.Set, int64, error) {
			v := version.Load()
			defer func() { loaded <- v }()
			return setOf("l", "192.0.2.1"), v, nil
		},
	}
	var live blocklist.Live
	r := blocklist.NewReloader(&live, loader, nil, slog.New(slog.DiscardHandler), 5*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	version.Store(7)
	if v := wait(t, loaded, "periodic load"); v != 7 {
		t.Fatalf("loaded version %d, want 7", v)
	}
}

// TestReloaderRace swaps sets while readers look up. A torn swap is for the
// race detector to find (scripts/test runs -race); the lookups check that
// every set a reader gets answers for both of its addresses under one name.
func TestReloaderRace(t *testing.T) {
	var version atomic.Int64
	loaded := make(chan struct{}, 1)
	loader := loaderFunc{
		version: func(ctx context.Context) (int64, error) { return version.Load(), nil },
		load: func(ctx context.Context) (*blocklist.Set, int64, error) {
			defer func() { loaded <- struct{}{} }()
			v := version.Load()
			name := fmt.Sprint("v", v)
			return setOf(name, "192.0.2.1", "198.51.100.1"), v, nil
		},
	}
	var live blocklist.Live
	r := blocklist.NewReloader(&live, loader, nil, slog.New(slog.DiscardHandler), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	<-loaded
	go r.Run(ctx)

	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")
	stop := make(chan struct{})
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				set := live.Load()
				sa, _, fa := set.Lookup(a)
				sb, _, fb := set.Lookup(b)
				if !fa || !fb || sa != sb {
					errs <- fmt.Errorf("half a set: %q %v / %q %v", sa, fa, sb, fb)
					return
				}
				if _, _, found := live.Lookup(a); !found {
					errs <- errors.New("a lookup during a swap found nothing")
					return
				}
			}
		})
	}
	for i := 1; i <= 200; i++ {
		version.Store(int64(i))
		r.Trigger(i%2 == 0)
		wait(t, loaded, "reload")
	}
	close(stop)
	wg.Wait()
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
