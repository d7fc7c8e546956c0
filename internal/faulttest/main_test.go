package faulttest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/sql"
)

// binary is the signupguard binary TestMain builds once, for the tests that
// kill or signal a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "signupguard-faulttest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "signupguard")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		gobin = p
	}
	build := exec.Command(gobin, "build", "-o", binary, "github.com/signupguard/signupguard/cmd/signupguard")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: build signupguard:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running signupguard binary.
type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error // receives Wait's result
}

// startBinary runs "signupguard serve" on a free loopback port with env
// added to ours, and returns once /readyz answers 200. It kills the process
// when t ends if it is still running. Its DNS server knows example.org, the
// domain of the tests' addresses; rate limits and bans are off, since the
// tests send far more than a person would from one address. The blocklist
// is blockedPrefix, from a file.
func startBinary(t *testing.T, env ...string) *process {
	t.Helper()
	ns := testenv.NewDNS(t,
		"example.org. 3600 IN MX 10 mail.example.org.",
		"mail.example.org. 3600 IN A 93.184.215.14",
	)
	list := filepath.Join(t.TempDir(), "blocked.txt")
	if err := os.WriteFile(list, []byte(blockedPrefix+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve")
	// The log is read for the listening address, then thrown away.
	cmd.Env = append(os.Environ(), append([]string{
		"SIGNUPGUARD_LISTEN=127.0.0.1:0",
		"SIGNUPGUARD_LOG_LEVEL=info",
		"SIGNUPGUARD_DNS_SERVERS=" + ns.Addr(),
		"SIGNUPGUARD_BLOCKLISTS=faulttest=" + list,
		"SIGNUPGUARD_RATE_LIMIT=off",
		"SIGNUPGUARD_NETWORK_RATE_LIMIT=off",
		"SIGNUPGUARD_GLOBAL_RATE_LIMIT=off",
		"SIGNUPGUARD_BAN_STRIKES=0",
		"REDIS_URL=",
	}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrc <- line.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("signupguard serve exited before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("signupguard serve did not listen within 60s")
	}
	waitReady(t, "http://"+p.addr)
	return p
}

// waitReady polls /readyz until it answers 200, for up to 30 s.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 30s (last: %v)", base, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, with a deadline
	}
}

// blockedPrefix covers the sources the tests send blocked requests from.
const blockedPrefix = "127.0.0.128/25"

// blockedSet is a blocklist of blockedPrefix alone.
func blockedSet() *blocklist.Set {
	set, _ := blocklist.New([]blocklist.Source{{Name: "faulttest", Prefixes: []netip.Prefix{netip.MustParsePrefix(blockedPrefix)}}}, blocklist.Options{})
	return set
}

// inProcess is signupguard wired as serve wires it, in this process, so a
// test can count goroutines and measure the heap.
type inProcess struct {
	URL string
}

// startInProcess serves signupguard on a free loopback port, storing into
// dbURL through the batcher. A nil lim or mx turns that check off; wrap,
// when not nil, wraps the handler.
func startInProcess(t *testing.T, dbURL string, lim service.Limiter, mx service.MXVerifier, cfg service.Config, wrap func(http.Handler) http.Handler) *inProcess {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		t.Fatal(err)
	}
	store := sql.NewBatcher(db, sql.BatchConfig{})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	signup := service.NewSignup(store, blockedSet(), lim, nil, mx, cfg)
	h := api.NewServer(log, signup, api.Config{}, []api.Check{{Name: "postgres", Check: db.Ping}}, api.Admin{}, prometheus.NewRegistry())
	if wrap != nil {
		h = wrap(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewHTTPServer(ln.Addr().String(), h, log)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		store.Close()
		db.Close()
	})
	return &inProcess{URL: "http://" + ln.Addr().String()}
}

// answer is what one request got.
type answer struct {
	email      string
	status     int // 0: no answer (err says why)
	code       string
	retryAfter string
	err        error
	start, end time.Time
}

// client returns an HTTP client sending from the loopback address from.
func client(from string, timeout time.Duration, keepAlive bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "127.0.0.1" {
		// Binding before connecting takes a port of its own for every
		// destination; leave 127.0.0.1 to connect, which shares ports.
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: 64,
		},
	}
}

// subscribe posts email to base/subscribe.
func subscribe(c *http.Client, base, email string) answer {
	a := answer{email: email, start: time.Now()}
	resp, err := c.Post(base+"/subscribe", "application/json", strings.NewReader(`{"email":"`+email+`"}`))
	if err != nil {
		a.err, a.end = err, time.Now()
		return a
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	b, err := io.ReadAll(resp.Body)
	a.end = time.Now()
	if err != nil {
		a.err = err
		return a
	}
	json.Unmarshal(b, &body)
	a.status, a.code, a.retryAfter = resp.StatusCode, body.Error.Code, resp.Header.Get("Retry-After")
	return a
}

// loadGen keeps workers sending new addresses until stop is closed, and
// collects every answer.
type loadGen struct {
	mu      sync.Mutex
	answers []answer
	wg      sync.WaitGroup
	stop    chan struct{}
}

// startLoad starts workers that each send one request after another with
// send, which gets a unique sequence number per request.
func startLoad(workers int, send func(n int) answer) *loadGen {
	g := &loadGen{stop: make(chan struct{})}
	var next int
	var nmu sync.Mutex
	for range workers {
		g.wg.Go(func() {
			for {
				select {
				case <-g.stop:
					return
				default:
				}
				nmu.Lock()
				next++
				n := next
				nmu.Unlock()
				a := send(n)
				g.mu.Lock()
				g.answers = append(g.answers, a)
				g.mu.Unlock()
			}
		})
	}
	return g
}

// finish stops the workers, waits for their last requests, and returns
// every answer.
func (g *loadGen) finish() []answer {
	close(g.stop)
	g.wg.Wait()
	return g.answers
}

// count returns how many answers had a status.
func (g *loadGen) count(status int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, a := range g.answers {
		if a.status == status {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// storedAddresses returns every stored address, and the number of rows.
func storedAddresses(t *testing.T, dbURL string) (map[string]bool, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "select address from subscribers")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	n := 0
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		found[a] = true
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return found, n
}

// checkNothingLost fails t unless every acknowledged address is stored,
// and no address is stored twice; it logs the figures either way.
func checkNothingLost(t *testing.T, dbURL string, answers []answer) {
	t.Helper()
	found, rows := storedAddresses(t, dbURL)
	acked, lost := 0, 0
	for _, a := range answers {
		if a.status/100 != 2 {
			continue
		}
		acked++
		if !found[a.email] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s is not stored", a.email)
			}
		}
	}
	t.Logf("sent %d, acknowledged %d, found %d of them (rows %d), lost %d", len(answers), acked, acked-lost, rows, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged addresses lost", lost)
	}
	if rows != len(found) {
		t.Errorf("%d rows for %d addresses: duplicates stored", rows, len(found))
	}
}

// signal sends sig to p.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to limit for p to exit and returns its error.
func (p *process) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(limit):
		t.Fatalf("signupguard did not exit within %s", limit)
		return errors.New("unreachable")
	}
}
