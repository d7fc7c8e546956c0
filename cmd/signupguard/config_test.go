package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signupguard/signupguard/service/limit"
)

// TestREADMESettings fails when README's configuration table and settings()
// differ in names, defaults or help, so neither can drift. The README may
// set words of the help in code spans; the default cell may say more after
// the default itself (where it comes from).
func TestREADMESettings(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no ## Configuration section")
	}
	section, _, _ := strings.Cut(after, "\n## ")
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\| (.*?) \\| (.*) \\|$")
	readme := map[string][2]string{}
	var order []string
	for _, line := range strings.Split(section, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			readme[m[1]] = [2]string{m[2], m[3]}
			order = append(order, m[1])
		}
	}
	var names []string
	for _, s := range settings() {
		names = append(names, s.Name)
		got, ok := readme[s.Name]
		if !ok {
			t.Errorf("README's configuration table lacks %s", s.Name)
			continue
		}
		def := "`" + s.Default + "`"
		if s.Default == "" {
			def = "(none)"
		}
		if !strings.HasPrefix(got[0], def) && !(s.Default != "" && strings.Contains(got[0], "see [")) ||
			strings.ReplaceAll(got[1], "`", "") != s.Help {
			t.Errorf("README row for %s:\n| %s | %s |\nwant (from settings()):\n| %s | %s |", s.Name, got[0], got[1], def, s.Help)
		}
	}
	for _, name := range order {
		if !slices.Contains(names, name) {
			t.Errorf("README lists %s, which settings() does not have", name)
		}
	}
}

// TestREADMEFormSnippet keeps the README's form snippet identical to the one
// the browser test runs (api/static/form.html).
func TestREADMEFormSnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile("../../api/static/form.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```html\n"+string(snippet)+"```") {
		t.Error("README's form snippet differs from api/static/form.html, which the browser test exercises")
	}
}

// TestLoadConfig covers every setting's parsing: one row per case, good
// and bad input in one table.
func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   func(Config) bool // for good input
		bad    bool
		errHas string // for bad input, when the error must say something
	}{
		// Core
		{name: "Defaults", env: nil, want: func(c Config) bool {
			return c.Listen == ":8080" && len(c.Lists) == 1 && c.Lists[0] == "default" && !c.RevealDuplicates && c.ShutdownTimeout == 20*time.Second
		}},
		{name: "Lists", env: map[string]string{"SIGNUPGUARD_LISTS": " a, b ,,c"}, want: func(c Config) bool {
			return strings.Join(c.Lists, "|") == "a|b|c"
		}},
		{name: "Reveal", env: map[string]string{"SIGNUPGUARD_REVEAL_DUPLICATES": "true"}, want: func(c Config) bool { return c.RevealDuplicates }},
		{name: "ErrReveal", env: map[string]string{"SIGNUPGUARD_REVEAL_DUPLICATES": "yes please"}, bad: true},
		{name: "ErrShutdown", env: map[string]string{"SIGNUPGUARD_SHUTDOWN_TIMEOUT": "-1s"}, bad: true},
		{name: "ErrLogLevel", env: map[string]string{"SIGNUPGUARD_LOG_LEVEL": "loud"}, bad: true},

		// MX
		{name: "MXDefaults", want: func(c Config) bool {
			return c.DNSServers == nil && c.MXTimeout == 3*time.Second && !c.AcceptMXTempfail && c.VerifyMX
		}},
		{name: "DNSServers", env: map[string]string{"SIGNUPGUARD_DNS_SERVERS": "192.0.2.53, [2001:db8::53]:5353"}, want: func(c Config) bool {
			return slices.Equal(c.DNSServers, []string{"192.0.2.53:53", "[2001:db8::53]:5353"})
		}},
		{name: "MXTimeoutAccept", env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "500ms", "SIGNUPGUARD_MX_TEMPFAIL": "accept"}, want: func(c Config) bool {
			return c.MXTimeout == 500*time.Millisecond && c.AcceptMXTempfail
		}},
		{name: "MXReject", env: map[string]string{"SIGNUPGUARD_MX_TEMPFAIL": "reject"}, want: func(c Config) bool { return !c.AcceptMXTempfail }},
		{name: "MXVerifyOff", env: map[string]string{"SIGNUPGUARD_MX_VERIFY": "false"}, want: func(c Config) bool { return !c.VerifyMX }},
		{name: "ErrDNSServerName", env: map[string]string{"SIGNUPGUARD_DNS_SERVERS": "dns.example.com"}, bad: true},
		{name: "ErrMXTimeoutZero", env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "0s"}, bad: true},
		{name: "ErrMXTimeoutUnit", env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "3"}, bad: true},
		{name: "ErrMXTempfail", env: map[string]string{"SIGNUPGUARD_MX_TEMPFAIL": "maybe"}, bad: true},
		{name: "ErrMXVerify", env: map[string]string{"SIGNUPGUARD_MX_VERIFY": "perhaps"}, bad: true},

		// Blocklist refresh
		{name: "RefreshDefaults", want: func(c Config) bool {
			return c.RefreshTimeout == time.Minute && c.BlocklistMaxBytes == 64<<20 && c.BlocklistMaxShrink == 0.5 && c.ReloadInterval == 30*time.Second
		}},
		{name: "RefreshSet", env: map[string]string{"SIGNUPGUARD_REFRESH_TIMEOUT": "5s", "SIGNUPGUARD_BLOCKLIST_MAX_MB": "8",
			"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "1", "SIGNUPGUARD_RELOAD_INTERVAL": "1m"}, want: func(c Config) bool {
			return c.RefreshTimeout == 5*time.Second && c.BlocklistMaxBytes == 8<<20 && c.BlocklistMaxShrink == 1 && c.ReloadInterval == time.Minute
		}},
		{name: "ErrTimeout", env: map[string]string{"SIGNUPGUARD_REFRESH_TIMEOUT": "0s"}, bad: true},
		{name: "ErrMaxMBZero", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "0"}, bad: true},
		{name: "ErrMaxMBHuge", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "5000"}, bad: true},
		{name: "ErrMaxMBUnit", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_MB": "64MiB"}, bad: true},
		{name: "ErrShrinkZero", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "0"}, bad: true},
		{name: "ErrShrinkOverOne", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "1.5"}, bad: true},
		{name: "ErrShrinkNaN", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "NaN"}, bad: true},
		{name: "ErrShrinkWord", env: map[string]string{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK": "half"}, bad: true},
		{name: "ErrReloadInterval", env: map[string]string{"SIGNUPGUARD_RELOAD_INTERVAL": "-1s"}, bad: true},

		// Batched inserts
		{name: "BatchDefault", want: func(c Config) bool { return c.Batch && c.BatchWindow == 0 }},
		{name: "BatchWindow", env: map[string]string{"SIGNUPGUARD_BATCH_WINDOW": "1ms"}, want: func(c Config) bool {
			return c.Batch && c.BatchWindow == time.Millisecond
		}},
		{name: "BatchOff", env: map[string]string{"SIGNUPGUARD_BATCH_WINDOW": "off"}, want: func(c Config) bool { return !c.Batch }},
		{name: "ErrBatchNegative", env: map[string]string{"SIGNUPGUARD_BATCH_WINDOW": "-1ms"}, bad: true},
		{name: "ErrBatchLong", env: map[string]string{"SIGNUPGUARD_BATCH_WINDOW": "2s"}, bad: true},
		{name: "ErrBatchUnit", env: map[string]string{"SIGNUPGUARD_BATCH_WINDOW": "1"}, bad: true},

		// Abuse controls
		{name: "LimitDefaults", env: nil, want: func(c Config) bool {
			l, d := limitConfig(c), limit.DefaultConfig()
			return reflect.DeepEqual(l, d) && c.RedisURL == "" && c.HoneypotField == "website" && c.Disposable && c.DisposableFile == ""
		}},
		{name: "PerSecond", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "2/s", "SIGNUPGUARD_RATE_BURST": "1"},
			want: func(c Config) bool { return limitConfig(c).Client == limit.Rate{N: 2, Per: time.Second, Burst: 1} }},
		{name: "PerHour", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "20/h"},
			want: func(c Config) bool { return limitConfig(c).Client == limit.Rate{N: 20, Per: time.Hour, Burst: 3} }},
		{name: "ClientOff", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "off"},
			want: func(c Config) bool { return limitConfig(c).Client.IsZero() }},
		{name: "NetworkAndGlobalOff", env: map[string]string{"SIGNUPGUARD_NETWORK_RATE_LIMIT": "off", "SIGNUPGUARD_GLOBAL_RATE_LIMIT": "off"},
			want: func(c Config) bool { return limitConfig(c).Network.IsZero() && limitConfig(c).Global.IsZero() }},
		{name: "Network", env: map[string]string{"SIGNUPGUARD_NETWORK_RATE_LIMIT": "100/h"},
			want: func(c Config) bool { return limitConfig(c).Network == limit.Rate{N: 100, Per: time.Hour, Burst: 100} }},
		{name: "Bans", env: map[string]string{"SIGNUPGUARD_BAN_STRIKES": "3", "SIGNUPGUARD_BAN_WINDOW": "1m", "SIGNUPGUARD_BAN_TIME": "1h", "SIGNUPGUARD_BAN_MAX_TIME": "168h"},
			want: func(c Config) bool {
				l := limitConfig(c)
				return l.Strikes == 3 && l.StrikeWindow == time.Minute && l.BanTime == time.Hour && l.MaxBanTime == 168*time.Hour
			}},
		{name: "BansOff", env: map[string]string{"SIGNUPGUARD_BAN_STRIKES": "0"},
			want: func(c Config) bool { return limitConfig(c).Strikes == 0 }},
		{name: "Keys", env: map[string]string{"SIGNUPGUARD_LIMIT_KEYS": "500"},
			want: func(c Config) bool { return limitConfig(c).MaxKeys == 500 }},
		{name: "Redis", env: map[string]string{"REDIS_URL": "redis://:secret@10.0.0.5:6379/2"},
			want: func(c Config) bool { return c.RedisURL == "redis://:secret@10.0.0.5:6379/2" }},
		{name: "RedisSocket", env: map[string]string{"REDIS_URL": "unix:///run/redis.sock"},
			want: func(c Config) bool { return c.RedisURL == "unix:///run/redis.sock" }},
		{name: "Honeypot", env: map[string]string{"SIGNUPGUARD_HONEYPOT_FIELD": "fax_number"},
			want: func(c Config) bool { return c.HoneypotField == "fax_number" }},
		{name: "DisposableOff", env: map[string]string{"SIGNUPGUARD_DISPOSABLE": "false", "SIGNUPGUARD_DISPOSABLE_FILE": "/etc/x"},
			want: func(c Config) bool { return !c.Disposable && c.DisposableFile == "/etc/x" }},

		{name: "RateNoUnit", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "5"}, bad: true},
		{name: "RateDay", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "5/day"}, bad: true},
		{name: "RateZero", env: map[string]string{"SIGNUPGUARD_RATE_LIMIT": "0/min"}, bad: true},
		{name: "BurstZero", env: map[string]string{"SIGNUPGUARD_RATE_BURST": "0"}, bad: true},
		{name: "BurstWord", env: map[string]string{"SIGNUPGUARD_RATE_BURST": "some"}, bad: true},
		{name: "NetworkBad", env: map[string]string{"SIGNUPGUARD_NETWORK_RATE_LIMIT": "lots"}, bad: true},
		{name: "StrikesNegative", env: map[string]string{"SIGNUPGUARD_BAN_STRIKES": "-1"}, bad: true},
		{name: "WindowZero", env: map[string]string{"SIGNUPGUARD_BAN_WINDOW": "0s"}, bad: true},
		{name: "MaxBelowBan", env: map[string]string{"SIGNUPGUARD_BAN_TIME": "2h", "SIGNUPGUARD_BAN_MAX_TIME": "1h"}, bad: true},
		{name: "KeysZero", env: map[string]string{"SIGNUPGUARD_LIMIT_KEYS": "0"}, bad: true},
		{name: "RedisScheme", env: map[string]string{"REDIS_URL": "http://:secret@example.org"}, bad: true},
		{name: "HoneypotEmail", env: map[string]string{"SIGNUPGUARD_HONEYPOT_FIELD": "email"}, bad: true},
		{name: "HoneypotSpace", env: map[string]string{"SIGNUPGUARD_HONEYPOT_FIELD": "my field"}, bad: true},
		{name: "DisposableMaybe", env: map[string]string{"SIGNUPGUARD_DISPOSABLE": "maybe"}, bad: true},

		// Operators
		{name: "OpsDefaults", want: func(c Config) bool { return c.AdminToken == "" && c.CORSOrigins == nil }},
		{name: "Origins", env: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org, http://localhost:3000/"},
			want: func(c Config) bool {
				return slices.Equal(c.CORSOrigins, []string{"https://www.example.org", "http://localhost:3000"})
			}},
		{name: "ErrOriginPath", env: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "https://www.example.org/news"}, bad: true, errHas: "SIGNUPGUARD_CORS_ORIGINS"},
		{name: "ErrOriginScheme", env: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "www.example.org"}, bad: true, errHas: "not an origin"},
		{name: "ErrOriginWildcard", env: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "*"}, bad: true, errHas: "not an origin"},
		{name: "Token", env: map[string]string{"SIGNUPGUARD_ADMIN_TOKEN": "0123456789abcdef"},
			want: func(c Config) bool { return c.AdminToken == "0123456789abcdef" }},
		{name: "ErrTokenShort", env: map[string]string{"SIGNUPGUARD_ADMIN_TOKEN": "hunter2"}, bad: true, errHas: "too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(env(tt.env))
			if tt.bad {
				if err == nil {
					t.Fatalf("loadConfig accepted %v", tt.env)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("err = %v, want one mentioning %q", err, tt.errHas)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error shows a password: %v", err)
				}
				return
			}
			if err != nil || !tt.want(c) {
				t.Fatalf("loadConfig(%v) = %+v, %v", tt.env, c, err)
			}
		})
	}
}

// FuzzParseOrigins checks that every origin accepted reads back as itself.
func FuzzParseOrigins(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		origins, err := parseOrigins(v)
		if err != nil {
			return
		}
		for _, o := range origins {
			again, err := parseOrigins(o)
			if err != nil || len(again) != 1 || again[0] != o {
				t.Fatalf("%q gave origin %q, which parses as %q, %v", v, o, again, err)
			}
			if strings.ContainsAny(o, " ,\r\n") {
				t.Fatalf("origin %q holds a separator", o)
			}
		}
	})
}
