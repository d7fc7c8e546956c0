package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/signupguard/signupguard/internal/testenv"
)

// localMX returns a DNS server on loopback that gives the domains of these
// tests a mail host with a public address, so no test asks the Internet.
func localMX(t *testing.T) string {
	return testenv.NewDNS(t,
		"example.org. 300 IN MX 10 mx.example.org.",
		"ok.mailinator.com. 300 IN MX 10 mx.example.org.",
		"mx.example.org. 300 IN A 142.250.1.26",
	).Addr()
}

// clientFrom returns an HTTP client whose requests come from local, one of
// the loopback addresses (all of 127/8 is local on Linux), so the server
// sees a client of that address.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

const jsonType, formType = "application/json", "application/x-www-form-urlencoded"

type answer struct {
	status     int
	retryAfter string
	body       map[string]any
}

func post(t *testing.T, c *http.Client, url, contentType, body string) answer {
	t.Helper()
	resp, err := c.Post(url+"/subscribe", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("answer to %s: %v", body, err)
	}
	return a
}

func (a answer) code() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func countRows(t *testing.T, dbURL, address string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from subscribers where address = $1", address).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func metricLine(t *testing.T, url, prefix string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix+" ") {
			return sc.Text()
		}
	}
	return ""
}

// The abuse controls as a client meets them, through serve: a configured
// honeypot on both body types, disposable domains, the rate limit and a
// ban that costs no database work.
func TestServeAbuseControls(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	extra := filepath.Join(t.TempDir(), "disposable.txt")
	if err := os.WriteFile(extra, []byte("our-trash.org\n!ok.mailinator.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url, logs := serveLogged(t, map[string]string{
		"DATABASE_URL":                dbURL,
		"SIGNUPGUARD_DNS_SERVERS":     localMX(t),
		"SIGNUPGUARD_HONEYPOT_FIELD":  "homepage",
		"SIGNUPGUARD_BAN_STRIKES":     "1",
		"SIGNUPGUARD_DISPOSABLE_FILE": extra,
	})

	for _, tc := range []struct{ name, from, ctype, body, stored string }{
		{"HoneypotJSON", "127.0.0.2", jsonType, `{"email":"Bot.One@Example.ORG","homepage":"http://spam.example"}`, "Bot.One@example.org"},
		{"HoneypotForm", "127.0.0.3", formType, "email=bot.two%40example.org&homepage=x", "bot.two@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, clientFrom(tc.from), url, tc.ctype, tc.body)
			if a.status != http.StatusAccepted || a.body["status"] != "accepted" || a.body["email"] != tc.stored {
				t.Errorf("answer %+v, want the 202 of a new address", a)
			}
			if n := countRows(t, dbURL, tc.stored); n != 0 {
				t.Errorf("%d rows stored for a trapped bot", n)
			}
		})
	}
	t.Run("OldFieldNameIsNoHoneypot", func(t *testing.T) {
		a := post(t, clientFrom("127.0.0.4"), url, formType, "email=person%40example.org&website=https%3A%2F%2Fmy.blog")
		if a.status != http.StatusAccepted || countRows(t, dbURL, "person@example.org") != 1 {
			t.Errorf("answer %+v; a form with a website field must be stored when the honeypot is homepage", a)
		}
	})
	if got := metricLine(t, url, `signupguard_limit_strikes_total{why="honeypot"}`); !strings.HasSuffix(got, " 2") {
		t.Errorf("honeypot strikes: %q, want 2", got)
	}
	if n := strings.Count(logs.String(), `"outcome":"honeypot"`); n != 2 {
		t.Errorf("%d request log lines with outcome honeypot, want 2:\n%s", n, logs)
	}

	t.Run("Disposable", func(t *testing.T) {
		// One client each: with SIGNUPGUARD_BAN_STRIKES=1 a second
		// refusal would ban the client.
		for i, email := range []string{"x@mailinator.com", "x@Sub.MAILINATOR.com", "x@our-trash.org"} {
			a := post(t, clientFrom(fmt.Sprintf("127.0.1.%d", i+1)), url, jsonType, `{"email":"`+email+`"}`)
			if a.status != http.StatusUnprocessableEntity || a.code() != "disposable_email" {
				t.Errorf("%s: answer %+v, want 422 disposable_email", email, a)
			}
		}
		if a := post(t, clientFrom("127.0.0.6"), url, jsonType, `{"email":"x@ok.mailinator.com"}`); a.status != http.StatusAccepted {
			t.Errorf("exempted domain: answer %+v, want 202", a)
		}
	})

	t.Run("RateLimit", func(t *testing.T) {
		c := clientFrom("127.0.0.7")
		for i, email := range []string{"r1@example.org", "r2@example.org", "r3@example.org"} {
			if a := post(t, c, url, formType, "email="+email); a.status != http.StatusAccepted {
				t.Fatalf("request %d of the burst: %+v", i+1, a)
			}
		}
		a := post(t, c, url, formType, "email=r4@example.org")
		if a.status != http.StatusTooManyRequests || a.code() != "rate_limited" || !slices.Contains([]string{"11", "12"}, a.retryAfter) {
			t.Errorf("4th request: %+v, want 429 rate_limited with Retry-After up to 12", a)
		}
		if countRows(t, dbURL, "r4@example.org") != 0 {
			t.Error("a limited request was stored")
		}
	})

	t.Run("Ban", func(t *testing.T) {
		// 127.0.0.2 filled the honeypot once; a second strike is more than 1.
		c := clientFrom("127.0.0.2")
		post(t, c, url, jsonType, `{"email":"again@example.org","homepage":"x"}`)
		a := post(t, c, url, jsonType, `{"email":"real@example.org"}`)
		if a.status != http.StatusTooManyRequests || a.code() != "rate_limited" || a.retryAfter != "900" {
			t.Errorf("banned client: %+v, want 429 with Retry-After 900 (15m)", a)
		}
		if countRows(t, dbURL, "real@example.org") != 0 {
			t.Error("a banned client's address was stored")
		}
		if !strings.Contains(logs.String(), `"msg":"client banned","network":"127.0.0.0/24"`) {
			t.Errorf("no ban log line:\n%s", logs)
		}
		if got := metricLine(t, url, "signupguard_limit_bans"); got != "signupguard_limit_bans 1" {
			t.Errorf("bans gauge: %q", got)
		}
	})
}

// With Redis unreachable, serve still limits (in process), and readiness
// says so without failing.
func TestServeRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	url, logs := serveLogged(t, map[string]string{
		"DATABASE_URL":            testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS": localMX(t),
		"REDIS_URL":               "redis://" + dead,
		// The default lists are URLs, not loaded until refresh runs, and
		// /readyz waits for them; this test is about Redis alone.
		"SIGNUPGUARD_BLOCKLISTS": "none",
	})
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status   string
		Degraded map[string]string
	}
	err = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || ready.Status != "ready" || !strings.Contains(ready.Degraded["redis"], "redis unreachable") {
		t.Errorf("/readyz: %d %+v %v; want 200 ready, degraded redis", resp.StatusCode, ready, err)
	}
	c := clientFrom("127.0.0.8")
	for i := range 3 {
		if a := post(t, c, url, jsonType, `{"email":"d`+string(rune('a'+i))+`@example.org"}`); a.status != http.StatusAccepted {
			t.Fatalf("request %d: %+v", i+1, a)
		}
	}
	if a := post(t, c, url, jsonType, `{"email":"dz@example.org"}`); a.status != http.StatusTooManyRequests {
		t.Errorf("4th request: %+v, want 429 from the in-process limit", a)
	}
	if !strings.Contains(logs.String(), "redis unreachable") {
		t.Errorf("the outage is not logged:\n%s", logs)
	}
}

// A disposable file that cannot be read stops serve at start, rather than
// serving without the operator's exemptions.
func TestServeBadDisposableFile(t *testing.T) {
	err := run(context.Background(), []string{"signupguard", "serve"}, func(k string) string {
		return map[string]string{
			"DATABASE_URL":                testenv.PostgresURL(t),
			"SIGNUPGUARD_LISTEN":          "127.0.0.1:0",
			"SIGNUPGUARD_DISPOSABLE_FILE": filepath.Join(t.TempDir(), "missing.txt"),
		}[k]
	}, io.Discard, io.Discard)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve with a missing disposable file: %v", err)
	}
}
