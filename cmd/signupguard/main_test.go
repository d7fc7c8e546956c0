package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
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

// startServe runs "signupguard serve" in-process on a free port and returns
// its base URL, and a stop function that cancels it (as SIGTERM does) and
// returns run's error.
func startServe(t *testing.T, vars map[string]string) (string, func() error) {
	t.Helper()
	m := map[string]string{"SIGNUPGUARD_LISTEN": "127.0.0.1:0"}
	for k, v := range vars {
		m[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"signupguard", "serve"}, env(m), io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, pr)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve exited early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening within 30s")
	}
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

// TestServe runs the binary's serve command end to end: migrations on an
// empty database, a signup stored, and a clean exit on cancellation.
func TestServe(t *testing.T) {
	// No test reaches the Internet: gmail.com's MX comes from a local server.
	dns := testenv.NewDNS(t, "gmail.com. 300 IN MX 5 gmail-smtp-in.l.google.com.", "gmail-smtp-in.l.google.com. 300 IN A 142.250.1.26")
	base, stop := startServe(t, map[string]string{"DATABASE_URL": testenv.PostgresURL(t), "SIGNUPGUARD_DNS_SERVERS": dns.Addr()})
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
