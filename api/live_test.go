package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/sql"
	"github.com/signupguard/signupguard/sql/sqltest"
)

// liveServer is signupguard's HTTP layer on a loopback listener over a real
// Postgres, with stand-ins only for the parts that are not the store.
type liveServer struct {
	*httptest.Server
	db  *sql.DB
	reg *prometheus.Registry
	log *logBuffer
}

// logBuffer collects log lines; the server writes from its goroutines while
// the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// parts are the optional pipeline parts of a test server; nil turns a check off.
type parts struct {
	ips        service.IPChecker
	lim        service.Limiter
	disposable service.DomainChecker
	mx         service.MXVerifier
	store      service.Store // nil: the test's own database
	ready      []api.Check   // besides Postgres
	admin      api.Admin
	svc        service.Config       // Lists defaults to default and weekly
	reg        *prometheus.Registry // nil: a new one
}

// stack is the handler a test server serves and what it was built on.
type stack struct {
	h   http.Handler
	db  *sql.DB
	reg *prometheus.Registry
	log *logBuffer
}

// newStack builds signupguard's HTTP layer over a fresh database, with
// stand-ins only for the parts that are not the store.
func newStack(t testing.TB, cfg api.Config, p parts) stack {
	t.Helper()
	db := sqltest.Open(t)
	store := p.store
	if store == nil {
		store = db
	}
	if p.svc.Lists == nil {
		p.svc.Lists = []string{"default", "weekly"}
	}
	if p.reg == nil {
		p.reg = prometheus.NewRegistry()
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	signup := service.NewSignup(store, p.ips, p.lim, p.disposable, p.mx, p.svc)
	ready := append([]api.Check{{Name: "postgres", Check: db.Ping}}, p.ready...)
	return stack{h: api.NewServer(log, signup, cfg, ready, p.admin, p.reg), db: db, reg: p.reg, log: logs}
}

// newLiveServer serves newStack on a loopback listener.
func newLiveServer(t testing.TB, cfg api.Config, p parts) *liveServer {
	t.Helper()
	st := newStack(t, cfg, p)
	srv := httptest.NewServer(st.h)
	t.Cleanup(srv.Close)
	return &liveServer{Server: srv, db: st.db, reg: st.reg, log: st.log}
}

// do sends a request and returns the answer with its body read.
func (s *liveServer) do(t *testing.T, method, path, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// rows counts the subscribers stored.
func (s *liveServer) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.db.Pool.QueryRow(context.Background(), "select count(*) from subscribers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Stand-ins for the admin parts, in wtf's mock style: each method calls a
// function field. The pipeline's parts come from service/mock.

type SourceLister struct {
	SourcesFn func(ctx context.Context) ([]api.Source, error)
}

func (m *SourceLister) Sources(ctx context.Context) ([]api.Source, error) { return m.SourcesFn(ctx) }

type IPMatcher struct {
	MatchesFn func(ip netip.Addr) ([]api.Match, bool)
}

func (m *IPMatcher) Matches(ip netip.Addr) ([]api.Match, bool) { return m.MatchesFn(ip) }

type Reloader struct {
	ReloadFn func(ctx context.Context) error
}

func (m *Reloader) Reload(ctx context.Context) error { return m.ReloadFn(ctx) }

type BanKeeper struct {
	BansFn func(ctx context.Context) ([]api.Ban, error)
	LiftFn func(ctx context.Context, key string) error
}

func (m *BanKeeper) Bans(ctx context.Context) ([]api.Ban, error) { return m.BansFn(ctx) }
func (m *BanKeeper) Lift(ctx context.Context, key string) error  { return m.LiftFn(ctx, key) }

var (
	_ api.SourceLister = (*SourceLister)(nil)
	_ api.IPMatcher    = (*IPMatcher)(nil)
	_ api.Reloader     = (*Reloader)(nil)
	_ api.BanKeeper    = (*BanKeeper)(nil)
)
