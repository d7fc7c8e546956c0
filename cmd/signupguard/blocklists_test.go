package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/signupguard/signupguard/internal/testenv"
)

func TestParseBlocklists(t *testing.T) {
	tests := []struct {
		in   string
		want []BlocklistSource
		bad  bool
	}{
		{in: "none"},
		{in: defaultBlocklists, want: []BlocklistSource{
			{"spamhaus_drop", "https://www.spamhaus.org/drop/drop_v4.json"},
			{"spamhaus_dropv6", "https://www.spamhaus.org/drop/drop_v6.json"}}},
		{in: "a=/tmp/a.txt, b = http://lists.example.net/b.txt", want: []BlocklistSource{{"a", "/tmp/a.txt"}, {"b", "http://lists.example.net/b.txt"}}},
		{in: "a=/x=y.txt", want: []BlocklistSource{{"a", "/x=y.txt"}}},
		{in: "a", bad: true},
		{in: "a=", bad: true},
		{in: "=/tmp/a", bad: true},
		{in: "a b=/tmp/a", bad: true},
		{in: "a=/tmp/a,a=/tmp/b", bad: true},
		{in: "a=ftp://lists.example.net/a", bad: true},
		{in: "a=https:///nohost", bad: true},
		{in: ",", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseBlocklists(tt.in)
			if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
				t.Errorf("parseBlocklists = %v, %v; want %v, bad=%v", got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: ""},
		{in: "10.0.0.0/8, 192.0.2.7", want: []string{"10.0.0.0/8", "192.0.2.7/32"}},
		{in: "::ffff:10.0.0.1, 2001:db8::1/32", want: []string{"10.0.0.1/32", "2001:db8::/32"}},
		{in: "10.0.0.0/33", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "localhost", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePrefixes(tt.in)
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if (err != nil) != tt.bad || !slices.Equal(s, tt.want) {
				t.Errorf("parsePrefixes = %v, %v; want %v, bad=%v", s, err, tt.want, tt.bad)
			}
		})
	}
}

// logged reports whether serve logged msg with the attribute list=name.
func logged(logs *logLines, msg, name string) bool {
	for _, line := range strings.Split(logs.String(), "\n") {
		var e struct{ Msg, List string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == msg && e.List == name {
			return true
		}
	}
	return false
}

func TestServeBlocksListedClient(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "test.txt")
	if err := os.WriteFile(list, []byte("# addresses of this test\n127.0.0.66\n192.0.2.0/24 ; SBL0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// gmail.com's MX comes from a local server; blocked requests must never ask it.
	dns := testenv.NewDNS(t, "gmail.com. 300 IN MX 5 gmail-smtp-in.l.google.com.", "gmail-smtp-in.l.google.com. 300 IN A 142.250.1.26")
	base, logs := serveLogged(t, map[string]string{
		"DATABASE_URL":                dbURL,
		"SIGNUPGUARD_DNS_SERVERS":     dns.Addr(),
		"SIGNUPGUARD_BLOCKLISTS":      "test=" + list + ",missing=" + filepath.Join(dir, "nope.txt") + ",remote=https://lists.invalid/drop.txt",
		"SIGNUPGUARD_TRUSTED_PROXIES": "127.0.0.10",
	})
	if !logged(logs, "blocklist refused", "missing") || !logged(logs, "blocklist not loaded yet: run signupguard refresh", "remote") {
		t.Errorf("the missing and remote lists were not reported:\n%s", logs)
	}
	if !logged(logs, "blocklist loaded", "test") {
		t.Errorf("the test list was not reported loaded:\n%s", logs)
	}

	resp, err := clientFrom("127.0.0.1").Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d, want 200 once the file list is loaded", resp.StatusCode)
	}

	tests := []struct {
		name   string
		from   string
		xff    string
		email  string
		status int
	}{
		{"listed peer", "127.0.0.66", "", "listed@gmail.com", http.StatusForbidden},
		{"listed peer forges X-Forwarded-For", "127.0.0.66", "198.51.100.1", "forged@gmail.com", http.StatusForbidden},
		{"trusted proxy forwards a listed client", "127.0.0.10", "127.0.0.66", "proxied@gmail.com", http.StatusForbidden},
		{"trusted proxy forwards a client in a listed CIDR", "127.0.0.10", "1.1.1.1, 192.0.2.200", "cidr@gmail.com", http.StatusForbidden},
		{"unlisted peer claims a listed address", "127.0.0.1", "127.0.0.66", "claims@gmail.com", http.StatusAccepted},
		{"trusted proxy forwards an unlisted client", "127.0.0.10", "198.51.100.1", "unlisted@gmail.com", http.StatusAccepted},
		// The body is parsed only after the client checks: a listed
		// client's malformed body is never looked at.
		{"listed peer sends a malformed body", "127.0.0.66", "", `"truncated`, http.StatusForbidden},
		{"unlisted peer sends a malformed body", "127.0.0.1", "", `"truncated`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", base+"/subscribe", strings.NewReader(`{"email":"`+tt.email+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			queries := dns.TotalQueries()
			resp, err := clientFrom(tt.from).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code string }
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body.Error.Code, tt.status)
			}
			if tt.status == http.StatusForbidden && body.Error.Code != "blocked_ip" {
				t.Errorf("error code %q, want blocked_ip", body.Error.Code)
			}
			if n := dns.TotalQueries() - queries; tt.status == http.StatusForbidden && n != 0 {
				t.Errorf("a blocked request made %d DNS queries", n)
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "select address, host(client_ip) from subscribers order by address")
	type row struct {
		Address  string
		ClientIP string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"claims@gmail.com", "127.0.0.1"}, {"unlisted@gmail.com", "198.51.100.1"}}
	if !slices.Equal(got, want) {
		t.Errorf("stored %v, want only the accepted signups %v", got, want)
	}
}

// TestServeNotReadyWithoutLists: with only URL lists, which the refresh
// command loads, serve starts but is not ready.
func TestServeNotReadyWithoutLists(t *testing.T) {
	base, _ := serveLogged(t, map[string]string{
		"DATABASE_URL":           testenv.PostgresURL(t),
		"SIGNUPGUARD_BLOCKLISTS": "remote=https://lists.invalid/drop.txt",
	})
	resp, err := clientFrom("127.0.0.1").Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Failed map[string]string }
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable || body.Failed["blocklists"] == "" {
		t.Errorf("/readyz = %d %v, want 503 naming blocklists", resp.StatusCode, body.Failed)
	}
}

// TestSampleBlocklists checks the lists scripts/run loads: they parse, and
// neither blocks loopback or a private proxy.
func TestSampleBlocklists(t *testing.T) {
	log := newLogger(io.Discard, "error")
	set, _ := loadBlocklists(Config{
		Blocklists: []BlocklistSource{
			{"spamhaus_drop", "../../blocklist/samples/spamhaus_drop_v4_2026-07-23.json"},
			{"spamhaus_dropv6", "../../blocklist/samples/spamhaus_dropv6_2024-02-27.txt"},
		},
		BlocklistMaxBytes: 64 << 20,
		TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7")},
	}, nil, log)
	if set == nil {
		t.Fatal("the sample lists did not load")
	}
	// 1,670 entries, one of them (62.60.226.0/24) twice: Counts are distinct prefixes.
	want := []string{"spamhaus_drop 1669", "spamhaus_dropv6 51"}
	var got []string
	for _, c := range set.Counts() {
		got = append(got, c.Name+" "+strconv.Itoa(c.Prefixes))
	}
	if !slices.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fd00::1"} {
		if src, p, found := set.Lookup(netip.MustParseAddr(ip)); found {
			t.Errorf("%s is blocked by %s %s", ip, src, p)
		}
	}
	// 1.10.16.0/20 is the first entry of the IPv4 sample.
	if _, _, found := set.Lookup(netip.MustParseAddr("1.10.16.1")); !found {
		t.Error("1.10.16.1 is not blocked")
	}
}

// TestFileBlocklistRead: before its first refresh, serve reads a file
// source as refresh would: gzip decoded, the size cap applied.
func TestFileBlocklistRead(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("# a list\n192.0.2.0/24\n"))
	zw.Close()
	path := filepath.Join(dir, "list.txt.gz")
	if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	log := newLogger(io.Discard, "error")
	tests := []struct {
		name     string
		maxBytes int64
		listed   bool
	}{
		{"Gzip", 1 << 20, true},
		{"OverCap", 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, files := loadBlocklists(Config{Blocklists: []BlocklistSource{{"gz", path}}, BlocklistMaxBytes: tt.maxBytes}, nil, log)
			var listed bool
			if set != nil {
				_, _, listed = set.Lookup(netip.MustParseAddr("192.0.2.7"))
			}
			if listed != tt.listed {
				t.Errorf("192.0.2.7 listed %v, want %v (files %+v)", listed, tt.listed, files)
			}
			if failed := len(files) == 1 && files[0].LastError != ""; failed == tt.listed {
				t.Errorf("files %+v: want a LastError exactly when the file is refused", files)
			}
		})
	}
}
