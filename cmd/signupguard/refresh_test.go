package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/signupguard/signupguard/internal/testenv"
)

// instance is one `signupguard serve` run in-process by run(), with its own
// pool, listener connection and registry: to Postgres it is a client like
// any other process, which is all LISTEN/NOTIFY can tell apart.
type instance struct {
	addr   string
	events chan logLine
	done   chan error
}

// logLine is one JSON log line of an instance.
type logLine map[string]any

func (l logLine) msg() string { s, _ := l["msg"].(string); return s }

// logPipe turns an instance's stderr into logLines.
type logPipe struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out chan<- logLine
}

func (p *logPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			p.buf.Write(line) // partial: wait for the rest
			return len(b), nil
		}
		var l logLine
		if json.Unmarshal(line, &l) == nil {
			select {
			case p.out <- l:
			default: // nobody is waiting for this much; drop rather than block serve
			}
		}
	}
}

func startInstance(t *testing.T, ctx context.Context, env map[string]string) *instance {
	t.Helper()
	in := &instance{events: make(chan logLine, 1024), done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() {
		in.done <- run(ctx, []string{"signupguard", "serve"}, getenv, io.Discard, &logPipe{out: in.events})
	}()
	l := in.waitFor(t, "listening", 30*time.Second)
	in.addr, _ = l["addr"].(string)
	return in
}

// waitFor returns the next log line with msg, failing after d.
func (in *instance) waitFor(t *testing.T, msg string, d time.Duration) logLine {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-in.events:
			if l.msg() == msg {
				return l
			}
		case err := <-in.done:
			t.Fatalf("serve ended while waiting for %q: %v", msg, err)
		case <-deadline:
			t.Fatalf("no %q log line within %s", msg, d)
		}
	}
}

// subscribeFrom posts a signup to in from the loopback address from, so the
// server sees from as the client IP, and returns the status and error code.
// The address is malformed: a client not blocked gets 422 invalid_email,
// decided after the blocklist and before any DNS or database work.
func subscribeFrom(t *testing.T, in *instance, from string) (int, string) {
	t.Helper()
	code, errc, err := postFrom(in.addr, from)
	if err != nil {
		t.Fatal(err)
	}
	return code, errc
}

func postFrom(addr, from string) (int, string, error) {
	resp, err := clientFrom(from).Post("http://"+addr+"/subscribe", "application/json", strings.NewReader(`{"email":"not-an-address"}`))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error.Code, nil
}

func refreshNow(t *testing.T, ctx context.Context, env map[string]string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, []string{"signupguard", "refresh"}, func(k string) string { return env[k] }, &out, &errb)
	return out.String(), err
}

// TestRefreshReachesInstances is the "done when": two instances
// against one Postgres; editing a list file and running refresh (a third
// client) makes both answer 403 for a newly listed IP within 5s, and a
// refresh that gets an empty or truncated list leaves the verdicts in force.
func TestRefreshReachesInstances(t *testing.T) {
	data := testenv.DataDir(t)
	drop, err := os.ReadFile(filepath.Join(data, "ipblocklists", "spamhaus_drop_legacy_2023-10-24.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	local := filepath.Join(dir, "local.txt")
	if err := os.WriteFile(local, drop, 0o644); err != nil {
		t.Fatal(err)
	}
	// The remote list: the real DROP list plus one loopback address, which
	// is the only kind a test can dial from.
	var remoteMu sync.Mutex
	remote := append(bytes.Clone(drop), "127.0.0.88\n"...)
	truncate := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remoteMu.Lock()
		body, cut := remote, truncate
		remoteMu.Unlock()
		if cut {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, len(body)))
		http.ServeContent(w, r, "remote.txt", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()

	env := map[string]string{
		"DATABASE_URL":           testenv.PostgresURL(t),
		"SIGNUPGUARD_LISTEN":     "127.0.0.1:0",
		"SIGNUPGUARD_BLOCKLISTS": "local=" + local + ",remote=" + srv.URL + "/remote.txt",
		// Far beyond the 5s: only LISTEN/NOTIFY can make the deadline.
		"SIGNUPGUARD_RELOAD_INTERVAL": "1h",
		"SIGNUPGUARD_LOG_LEVEL":       "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, err := refreshNow(t, ctx, env)
	if err != nil || strings.Count(out, ": updated, ") != 2 {
		t.Fatalf("first refresh: %v\n%s", err, out)
	}

	a, b := startInstance(t, ctx, env), startInstance(t, ctx, env)
	defer func() {
		cancel()
		for _, in := range []*instance{a, b} {
			if err := <-in.done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}()
	for _, in := range []*instance{a, b} {
		in.waitFor(t, "blocklist listener connected", 10*time.Second)
		if code, errc := subscribeFrom(t, in, "127.0.0.77"); code != http.StatusUnprocessableEntity {
			t.Fatalf("127.0.0.77 before it is listed: %d %s, want 422 invalid_email", code, errc)
		}
		if code, errc := subscribeFrom(t, in, "127.0.0.88"); code != http.StatusForbidden || errc != "blocked_ip" {
			t.Fatalf("127.0.0.88, on the remote list: %d %s, want 403 blocked_ip", code, errc)
		}
	}

	// Requests keep coming during the reload; each gets its verdict, none
	// an error (run under -race, this is also the swap's race test).
	stopHammer := make(chan struct{})
	hammered := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stopHammer:
				if n == 0 {
					hammered <- fmt.Errorf("no request was made")
				}
				hammered <- nil
				return
			default:
			}
			if code, _, err := postFrom(a.addr, "127.0.0.88"); err != nil || code != http.StatusForbidden {
				hammered <- fmt.Errorf("request %d during the reload: %d %v, want 403", n, code, err)
				return
			}
			n++
		}
	}()

	f, err := os.OpenFile(local, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("127.0.0.77\n")
	f.Close()
	out, err = refreshNow(t, ctx, env)
	if err != nil || !strings.Contains(out, "local: updated, 957 entries, was 956") || !strings.Contains(out, "remote: not modified") {
		t.Fatalf("refresh after the edit: %v\n%s", err, out)
	}
	for _, in := range []*instance{a, b} {
		in.waitFor(t, "blocklists loaded", 5*time.Second)
		if code, errc := subscribeFrom(t, in, "127.0.0.77"); code != http.StatusForbidden || errc != "blocked_ip" {
			t.Fatalf("127.0.0.77 after the refresh: %d %s, want 403 blocked_ip", code, errc)
		}
	}

	close(stopHammer)
	if err := <-hammered; err != nil {
		t.Fatal(err)
	}

	// Broken downloads are refused; both instances keep every verdict.
	for _, breakIt := range []func(){
		func() { remote = nil },
		func() { remote = append(bytes.Clone(drop), "127.0.0.99\n"...); truncate = true },
	} {
		remoteMu.Lock()
		breakIt()
		remoteMu.Unlock()
		out, err = refreshNow(t, ctx, env)
		if err == nil || !strings.Contains(out, "remote: FAILED") || !strings.Contains(out, "keeping 957 entries") {
			t.Fatalf("refresh of a broken list: err %v\n%s", err, out)
		}
		for _, in := range []*instance{a, b} {
			// The failure is announced too; once the instance has checked
			// the version, its answers are final.
			in.waitFor(t, "blocklist version unchanged", 5*time.Second)
			for _, ip := range []string{"127.0.0.77", "127.0.0.88"} {
				if code, _ := subscribeFrom(t, in, ip); code != http.StatusForbidden {
					t.Fatalf("%s after a refused refresh: %d, want 403", ip, code)
				}
			}
		}
	}
}

// TestServeFileSourcesBeforeRefresh: with an empty database, file sources
// are read directly, so a fresh install blocks before its first cron run.
func TestServeFileSourcesBeforeRefresh(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "local.txt")
	if err := os.WriteFile(local, []byte("# mine\n127.0.0.66\n192.0.2.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DATABASE_URL":           testenv.PostgresURL(t),
		"SIGNUPGUARD_LISTEN":     "127.0.0.1:0",
		"SIGNUPGUARD_BLOCKLISTS": "local=" + local + ",remote=http://127.0.0.1:1/never-fetched.txt",
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := startInstance(t, ctx, env)
	defer func() { cancel(); <-in.done }()
	if code, _ := subscribeFrom(t, in, "127.0.0.66"); code != http.StatusForbidden {
		t.Fatalf("127.0.0.66 from the file, before any refresh: %d, want 403", code)
	}
	if code, errc := subscribeFrom(t, in, "127.0.0.67"); code != http.StatusUnprocessableEntity {
		t.Fatalf("127.0.0.67, on no list: %d %s, want 422 invalid_email", code, errc)
	}
}

// TestRefreshCommand checks the exit status and the line per source.
func TestRefreshCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("192.0.2.1\n"), 0o644)
	env := map[string]string{"DATABASE_URL": testenv.PostgresURL(t)}
	ctx := context.Background()

	env["SIGNUPGUARD_BLOCKLISTS"] = "good=" + good
	out, err := refreshNow(t, ctx, env)
	if err != nil || !strings.HasPrefix(out, "good: updated, 1 entries (10 bytes, ") {
		t.Fatalf("one good source: err %v, output %q", err, out)
	}
	out, err = refreshNow(t, ctx, env)
	if err != nil || !strings.HasPrefix(out, "good: unchanged, 1 entries") {
		t.Fatalf("again: err %v, output %q", err, out)
	}

	env["SIGNUPGUARD_BLOCKLISTS"] = "good=" + good + ",gone=" + filepath.Join(dir, "missing.txt")
	out, err = refreshNow(t, ctx, env)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err == nil || exitCode(err) != 1 || len(lines) != 2 || !strings.HasPrefix(lines[1], "gone: FAILED: ") {
		t.Fatalf("one missing source: err %v, output %q; want exit 1 and a FAILED line", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.ContainsAny(sc.Text(), "\r\033") {
			t.Errorf("progress escapes in plain output: %q", sc.Text())
		}
	}
}

// TestServeReloadAfterReconnect: a refresh made while an instance's
// listener connection is down (its NOTIFY lost) is still picked up, by the
// full reload that follows every reconnect.
func TestServeReloadAfterReconnect(t *testing.T) {
	dir := t.TempDir()
	local := filepath.Join(dir, "local.txt")
	if err := os.WriteFile(local, []byte("192.0.2.0/24\n198.51.100.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL := testenv.PostgresURL(t)
	env := map[string]string{
		"DATABASE_URL":                dbURL,
		"SIGNUPGUARD_LISTEN":          "127.0.0.1:0",
		"SIGNUPGUARD_BLOCKLISTS":      "local=" + local,
		"SIGNUPGUARD_RELOAD_INTERVAL": "1h",
	}
	ctx, cancel := context.WithCancel(context.Background())
	if out, err := refreshNow(t, ctx, env); err != nil {
		t.Fatalf("first refresh: %v\n%s", err, out)
	}
	in := startInstance(t, ctx, env)
	defer func() { cancel(); <-in.done }()
	in.waitFor(t, "blocklist listener connected", 10*time.Second)

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `select pg_terminate_backend(pid) from pg_stat_activity
		where datname = current_database() and query = 'listen signupguard_blocklists'`); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, "blocklist listener disconnected; reconnecting", 10*time.Second)
	if err := os.WriteFile(local, []byte("192.0.2.0/24\n198.51.100.0/24\n127.0.0.55\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := refreshNow(t, ctx, env); err != nil || !strings.Contains(out, "local: updated, 3 entries") {
		t.Fatalf("refresh while the listener is down: %v\n%s", err, out)
	}
	in.waitFor(t, "blocklist listener connected", 10*time.Second)
	in.waitFor(t, "blocklists loaded", 5*time.Second)
	if code, errc := subscribeFrom(t, in, "127.0.0.55"); code != http.StatusForbidden || errc != "blocked_ip" {
		t.Fatalf("127.0.0.55 after the reconnect: %d %s, want 403 blocked_ip", code, errc)
	}
}

// TestStoredListsSources: what serve reports per configured source (for
// the metrics and the admin view): the stored copy, the file read
// directly, or a URL never fetched; stored sources no longer configured
// are left out, and a stored copy wins over its file.
func TestStoredListsSources(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for name, body := range map[string]string{"a.txt": "192.0.2.1\n", "b.txt": "198.51.100.0/24\n198.51.100.7\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "SIGNUPGUARD_BLOCKLISTS": "a=" + filepath.Join(dir, "a.txt") + ",old=" + filepath.Join(dir, "b.txt")}
	if out, err := refreshNow(t, ctx, env); err != nil {
		t.Fatalf("refresh: %v\n%s", err, out)
	}
	// a is stored; b is a file never refreshed; c a URL never fetched; old is stored but no longer configured.
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("192.0.2.1\n192.0.2.2\n192.0.2.3\n"), 0o644)
	env["SIGNUPGUARD_BLOCKLISTS"] = "a=" + filepath.Join(dir, "a.txt") + ",b=" + filepath.Join(dir, "b.txt") + ",c=http://127.0.0.1:1/c.txt"
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := &storedLists{db: db, cfg: cfg, metrics: nil, log: newLogger(io.Discard, "error")}
	set, _, err := stored.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]string{"192.0.2.1": "a", "192.0.2.2": "", "198.51.100.9": "b"} {
		if src, _, _ := set.Lookup(netip.MustParseAddr(ip)); src != want {
			t.Errorf("%s listed by %q, want %q", ip, src, want)
		}
	}
	got, err := stored.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("%s entries=%d copy=%v err=%q", s.Name, s.Entries, s.HasCopy(), s.LastError))
	}
	want := []string{`a entries=1 copy=true err=""`, `b entries=2 copy=true err=""`, `c entries=0 copy=false err="never fetched: run signupguard refresh"`}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("sources:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
