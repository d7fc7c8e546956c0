package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signupguard/signupguard/internal/testenv"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"signupguard", "--help"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.Contains(out.String(), s.Name) {
			t.Errorf("--help does not list %s", s.Name)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(context.Background(), []string{"signupguard", "frobnicate"}, env(nil), io.Discard, io.Discard)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("err = %v, want a usage error", err)
	}
}

// logLines is stderr of a running serve: it hands the listening address
// over once it is logged, and keeps every line for the test to read.
type logLines struct {
	mu    sync.Mutex
	lines []string
	addr  chan string
	part  strings.Builder
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part.Write(p)
	s := l.part.String()
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			break
		}
		l.lines = append(l.lines, line)
		var e struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "listening" {
			l.addr <- e.Addr
		}
		s = rest
	}
	l.part.Reset()
	l.part.WriteString(s)
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// serveLogged runs "signupguard serve" with env on a free loopback port
// and returns its base URL and logs; it is stopped when t ends, and must
// then return nil.
func serveLogged(t *testing.T, env map[string]string) (string, *logLines) {
	t.Helper()
	base, logs, _ := startServe(t, env)
	return base, logs
}

// startServe is serveLogged with a stop function that cancels serve (as
// SIGTERM does) and returns run's error.
func startServe(t *testing.T, vars map[string]string) (string, *logLines, func() error) {
	t.Helper()
	all := map[string]string{"SIGNUPGUARD_LISTEN": "127.0.0.1:0"}
	for k, v := range vars {
		all[k] = v
	}
	logs := &logLines{addr: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"signupguard", "serve"}, env(all), io.Discard, logs) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-logs.addr:
		return "http://" + addr, logs, stop
	case err := <-done:
		t.Fatalf("serve ended before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30s:\n%s", logs)
	}
	return "", nil, nil
}

// request sends method to url, with token as bearer token unless it is
// empty, and returns the answer's status and body.
func request(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServe runs the binary's serve command end to end: migrations on an
// empty database, a signup stored, and a clean exit on cancellation.
func TestServe(t *testing.T) {
	// No test reaches the Internet: gmail.com's MX comes from a local server.
	dns := testenv.NewDNS(t, "gmail.com. 300 IN MX 5 gmail-smtp-in.l.google.com.", "gmail-smtp-in.l.google.com. 300 IN A 142.250.1.26")
	base, _, stop := startServe(t, map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "SIGNUPGUARD_DNS_SERVERS": dns.Addr()})
	resp, err := http.Post(base+"/subscribe", "application/json", strings.NewReader(`{"email":"a@gmail.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(body) != `{"status":"accepted","email":"a@gmail.com"}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after cancellation, want nil", err)
	}
}

func TestServeWithoutDatabase(t *testing.T) {
	err := run(context.Background(), []string{"signupguard", "serve"}, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("err = %v, want one naming DATABASE_URL", err)
	}
}
