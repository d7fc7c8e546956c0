package sql_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/sql"
	"github.com/signupguard/signupguard/sql/sqltest"
)

func mustBatcher(t testing.TB, db *sql.DB, cfg sql.BatchConfig) *sql.Batcher {
	t.Helper()
	b := sql.NewBatcher(db, cfg)
	t.Cleanup(b.Close)
	return b
}

func subscriber(t testing.TB, list, email string) service.Subscriber {
	t.Helper()
	addr, err := service.ParseAddress(email)
	if err != nil {
		t.Fatal(err)
	}
	return service.Subscriber{List: list, Address: addr, Client: netip.MustParseAddr("192.0.2.7")}
}

func countRows(t testing.TB, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), "select count(*) from subscribers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatcherConcurrentIdentical: 64 concurrent adds of one mailbox create
// one row, and exactly one caller is told it created it.
func TestBatcherConcurrentIdentical(t *testing.T) {
	db := sqltest.Open(t)
	b := mustBatcher(t, db, sql.BatchConfig{})
	// Spellings of one Gmail mailbox: they share a key.
	spellings := []string{"jane.doe@gmail.com", "janedoe+news@gmail.com", "Jane.Doe@googlemail.com", "j.a.n.e.doe@gmail.com"}
	const n = 64
	var created, dup int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := b.AddSubscriber(context.Background(), subscriber(t, "default", spellings[i%len(spellings)]))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case c:
				created++
			default:
				dup++
			}
		})
	}
	wg.Wait()
	if created != 1 || dup != n-1 {
		t.Errorf("created %d, duplicate %d; want 1 and %d", created, dup, n-1)
	}
	if got := countRows(t, db); got != 1 {
		t.Errorf("%d rows, want 1", got)
	}
}

// TestBatcherOverlapping: batches in flight at once that share keys, in any
// order, neither deadlock nor create a key twice.
func TestBatcherOverlapping(t *testing.T) {
	db := sqltest.Open(t)
	b := mustBatcher(t, db, sql.BatchConfig{Window: 100 * time.Microsecond, MaxSize: 8, InFlight: 4})
	const keys, adds = 20, 400
	var created atomic.Int64
	var wg sync.WaitGroup
	for i := range adds {
		wg.Go(func() {
			k := (i * 7919) % keys // a spread of keys in no particular order
			c, err := b.AddSubscriber(context.Background(), subscriber(t, "default", fmt.Sprintf("k%d@example.org", k)))
			if err != nil {
				t.Error(err)
			}
			if c {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != keys {
		t.Errorf("%d callers told created, want %d", created.Load(), keys)
	}
	if got := countRows(t, db); got != keys {
		t.Errorf("%d rows, want %d", got, keys)
	}
}

// TestBatcherOutcomes checks each caller's outcome in batches that mix new
// keys, keys already stored, repeats within the batch and other lists.
func TestBatcherOutcomes(t *testing.T) {
	db := sqltest.Open(t)
	// A long window puts all of one round in one or two batches.
	b := mustBatcher(t, db, sql.BatchConfig{Window: 50 * time.Millisecond, MaxSize: 64})
	ctx := context.Background()
	if _, err := b.AddSubscriber(ctx, subscriber(t, "default", "old@example.org")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		list, email string
		created     bool // exactly one of the rows with created true per key
	}{
		{"default", "old@example.org", false},
		{"default", "OLD@example.org", false},
		{"other", "old@example.org", true},
		{"default", "new1@example.org", true},
		{"default", "NEW1@Example.org", false},
		{"default", "new2@example.org", true},
	}
	type answer struct {
		created bool
		err     error
	}
	answers := make([]answer, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() {
			c, err := b.AddSubscriber(ctx, subscriber(t, tt.list, tt.email))
			answers[i] = answer{c, err}
		})
	}
	wg.Wait()
	// Within one round the order of the two spellings of new1 is up to
	// the scheduler; count per key rather than per row.
	perKey := map[string]int{}
	wantPerKey := map[string]int{}
	for i, tt := range tests {
		k := tt.list + "/" + strings.ToLower(tt.email)
		if answers[i].err != nil {
			t.Errorf("%s %s: %v", tt.list, tt.email, answers[i].err)
		}
		if answers[i].created {
			perKey[k]++
		}
		if tt.created {
			wantPerKey[k]++
		}
	}
	for k, want := range wantPerKey {
		if perKey[k] != want {
			t.Errorf("%s: %d callers told created, want %d", k, perKey[k], want)
		}
	}
	for k, got := range perKey {
		if wantPerKey[k] == 0 {
			t.Errorf("%s: %d callers told created, want 0", k, got)
		}
	}
	if got := countRows(t, db); got != 4 {
		t.Errorf("%d rows, want 4", got)
	}
}

// TestBatcherStoresFields: a batched row holds what the single insert
// stores: the address as typed, its key, the name and the client.
func TestBatcherStoresFields(t *testing.T) {
	db := sqltest.Open(t)
	b := mustBatcher(t, db, sql.BatchConfig{})
	s := subscriber(t, "default", "Jane.Doe+x@GoogleMail.com")
	s.Name = "Jane"
	s.Client = netip.MustParseAddr("::ffff:198.51.100.9")
	if _, err := b.AddSubscriber(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	noIP := subscriber(t, "default", "noip@example.org")
	noIP.Client = netip.Addr{}
	if _, err := b.AddSubscriber(context.Background(), noIP); err != nil {
		t.Fatal(err)
	}
	var addr, key, name string
	var ip *netip.Addr
	err := db.Pool.QueryRow(context.Background(),
		"select address, address_key, name, client_ip from subscribers where address_key = $1", s.Address.Key).Scan(&addr, &key, &name, &ip)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "Jane.Doe+x@googlemail.com" || key != s.Address.Key || name != "Jane" || ip == nil || *ip != netip.MustParseAddr("198.51.100.9") {
		t.Errorf("row = %q %q %q %v", addr, key, name, ip)
	}
	err = db.Pool.QueryRow(context.Background(),
		"select client_ip from subscribers where address_key = 'noip@example.org'").Scan(&ip)
	if err != nil || ip != nil {
		t.Errorf("client_ip of a request without one = %v, %v; want NULL", ip, err)
	}
}

// TestBatcherCancelled: a caller whose context has ended gets its error and
// leaves no row.
func TestBatcherCancelled(t *testing.T) {
	db := sqltest.Open(t)
	b := mustBatcher(t, db, sql.BatchConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.AddSubscriber(ctx, subscriber(t, "default", "gone@example.org"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// A later add goes through the same writer, so it is a barrier.
	if _, err := b.AddSubscriber(context.Background(), subscriber(t, "default", "later@example.org")); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, db); got != 1 {
		t.Errorf("%d rows, want only the later one", got)
	}
}

// TestBatcherClose: everything queued before Close is written and
// answered; adds after Close fail with ErrClosed.
func TestBatcherClose(t *testing.T) {
	db := sqltest.Open(t)
	b := sql.NewBatcher(db, sql.BatchConfig{Window: 20 * time.Millisecond})
	const n = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok int
	for i := range n {
		wg.Go(func() {
			c, err := b.AddSubscriber(context.Background(), subscriber(t, "default", fmt.Sprintf("c%d@example.org", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, sql.ErrClosed):
			case err != nil:
				t.Error(err)
			case c:
				ok++
			default:
				t.Errorf("c%d: duplicate on an empty table", i)
			}
		})
	}
	b.Close()
	wg.Wait()
	if got := countRows(t, db); got != ok {
		t.Errorf("%d rows, but %d callers were told created", got, ok)
	}
	if _, err := b.AddSubscriber(context.Background(), subscriber(t, "default", "after@example.org")); !errors.Is(err, sql.ErrClosed) {
		t.Errorf("add after Close: err = %v, want ErrClosed", err)
	}
	b.Close() // a second Close is harmless
}

// TestBatcherPostgresDown: with nothing listening, adds fail (the service
// answers 503) instead of hanging.
func TestBatcherPostgresDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db, err := sql.Open(context.Background(), "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := mustBatcher(t, db, sql.BatchConfig{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := b.AddSubscriber(context.Background(), subscriber(t, "default", fmt.Sprintf("d%d@example.org", i)))
			if err == nil {
				t.Error("add with Postgres down succeeded")
			}
		})
	}
	wg.Wait()
}

// TestSubscribeConcurrentBatched is the HTTP promise with the batcher as
// store: 64 concurrent identical signups make one row; with duplicates
// hidden all get the same answer, with them revealed exactly one gets 201.
func TestSubscribeConcurrentBatched(t *testing.T) {
	for _, reveal := range []bool{false, true} {
		t.Run(fmt.Sprintf("reveal=%v", reveal), func(t *testing.T) {
			db := sqltest.Open(t)
			b := mustBatcher(t, db, sql.BatchConfig{})
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			signup := service.NewSignup(b, nil, nil, nil, nil, service.Config{})
			srv := httptest.NewServer(api.NewServer(log, signup, api.Config{RevealDuplicates: reveal}, nil, api.Admin{}, prometheus.NewRegistry()))
			defer srv.Close()
			const n = 64
			answers := make(map[string]int)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					resp, err := http.Post(srv.URL+"/subscribe", "application/json", strings.NewReader(`{"email":"Same.Person@Example.org"}`))
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					body, _ := io.ReadAll(resp.Body)
					mu.Lock()
					answers[fmt.Sprintf("%d %s", resp.StatusCode, body)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			want := map[string]int{`202 {"status":"accepted","email":"Same.Person@example.org"}`: n}
			if reveal {
				want = map[string]int{
					`201 {"status":"subscribed","email":"Same.Person@example.org"}`:         1,
					`200 {"status":"already_subscribed","email":"Same.Person@example.org"}`: n - 1,
				}
			}
			if fmt.Sprint(answers) != fmt.Sprint(want) {
				t.Errorf("answers = %v, want %v", answers, want)
			}
			if got := countRows(t, db); got != 1 {
				t.Errorf("%d rows, want 1", got)
			}
		})
	}
}

// BenchmarkAddSubscriber compares one insert per signup with the batcher,
// at 32 signups in flight. Compare the two in one run: the machine's noise
// moves both.
func BenchmarkAddSubscriber(b *testing.B) {
	db := sqltest.Open(b)
	var n atomic.Int64
	run := func(b *testing.B, store service.Store) {
		b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s := subscriber(b, "default", fmt.Sprintf("b%d@example.org", n.Add(1)))
				if _, err := store.AddSubscriber(context.Background(), s); err != nil {
					b.Error(err)
				}
			}
		})
	}
	b.Run("single", func(b *testing.B) { run(b, db) })
	b.Run("batched", func(b *testing.B) { run(b, mustBatcher(b, db, sql.BatchConfig{})) })
	b.Run("batched-inflight1", func(b *testing.B) { run(b, mustBatcher(b, db, sql.BatchConfig{InFlight: 1})) })
	b.Run("batched-window-1ms", func(b *testing.B) { run(b, mustBatcher(b, db, sql.BatchConfig{Window: time.Millisecond})) })
	b.Run("batched-window-100us", func(b *testing.B) { run(b, mustBatcher(b, db, sql.BatchConfig{Window: 100 * time.Microsecond})) })
}
