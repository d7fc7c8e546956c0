package main

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/service/limit"
	"github.com/signupguard/signupguard/service/mx"
)

// Config is every setting of signupguard, read from the environment.
type Config struct {
	DatabaseURL      string
	Listen           string
	Lists            []string
	RevealDuplicates bool
	DNSServers       []string // host:port; empty: /etc/resolv.conf's
	MXTimeout        time.Duration
	AcceptMXTempfail bool
	VerifyMX         bool
	ShutdownTimeout  time.Duration
	LogLevel         string

	// Abuse controls (service/limit, service/disposable).
	RateLimit        limit.Rate // per client; Burst is RateBurst
	RateBurst        int
	NetworkRateLimit limit.Rate
	GlobalRateLimit  limit.Rate
	BanStrikes       int
	BanWindow        time.Duration
	BanTime          time.Duration
	BanMaxTime       time.Duration
	LimitKeys        int
	RedisURL         string
	HoneypotField    string
	Disposable       bool
	DisposableFile   string
	Blocklists       []BlocklistSource // empty: no lists
	Allowlist        []netip.Prefix
	TrustedProxies   []netip.Prefix

	// Blocklist refresh (blocklist.Fetcher, blocklist.Refresher, blocklist.Reloader).
	RefreshTimeout     time.Duration // one source's whole download
	BlocklistMaxBytes  int64
	BlocklistMaxShrink float64
	ReloadInterval     time.Duration

	// Operators and website owners (api: admin, CORS, forms).
	AdminToken  string
	CORSOrigins []string

	// Batched inserts (sql.Batcher); Batch false inserts each signup on
	// its own.
	Batch       bool
	BatchWindow time.Duration
}

// setting is one environment variable: its default, its help line, and how
// it is stored in Config. --help and the README's table come from settings.
type setting struct {
	Name    string
	Default string
	Help    string
	set     func(c *Config, v string) error
}

func settings() []setting {
	return []setting{
		{"DATABASE_URL", "", "Postgres URL or DSN; required by serve, migrate and refresh",
			func(c *Config, v string) error { c.DatabaseURL = v; return nil }},
		{"SIGNUPGUARD_LISTEN", ":8080", "HTTP listen address",
			func(c *Config, v string) error { c.Listen = v; return nil }},
		{"SIGNUPGUARD_LISTS", "default", "comma-separated names of newsletter lists accepted in the list field",
			func(c *Config, v string) error { c.Lists = splitList(v); return nil }},
		{"SIGNUPGUARD_REVEAL_DUPLICATES", "false", "answer 201 for a new address and 200 for a known one, instead of 202 for both",
			func(c *Config, v string) (err error) { c.RevealDuplicates, err = strconv.ParseBool(v); return err }},
		{"SIGNUPGUARD_DNS_SERVERS", "", "comma-separated DNS resolvers for MX checks, IP or IP:port; empty: the nameservers of /etc/resolv.conf",
			func(c *Config, v string) (err error) {
				if v != "" {
					c.DNSServers, err = mx.ParseServers(v)
				}
				return err
			}},
		{"SIGNUPGUARD_MX_TIMEOUT", "3s", "total time one MX verification may take",
			func(c *Config, v string) (err error) { c.MXTimeout, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_MX_VERIFY", "true", "check that the address's domain can receive mail (MX, else A/AAAA); false skips DNS entirely (for machines without DNS)",
			func(c *Config, v string) (err error) { c.VerifyMX, err = strconv.ParseBool(v); return err }},
		{"SIGNUPGUARD_MX_TEMPFAIL", "reject", "when DNS fails temporarily (timeout, SERVFAIL): reject (503, retry later) or accept (store the address)",
			func(c *Config, v string) error {
				switch v {
				case "reject", "accept":
					c.AcceptMXTempfail = v == "accept"
					return nil
				}
				return fmt.Errorf("want reject or accept")
			}},
		{"SIGNUPGUARD_SHUTDOWN_TIMEOUT", "20s", "on SIGTERM, how long in-flight requests may take to finish",
			func(c *Config, v string) (err error) { c.ShutdownTimeout, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_BLOCKLISTS", defaultBlocklists, "comma-separated name=location IP blocklists; location is an http(s) URL (fetched by refresh) or a file path; none for no lists",
			func(c *Config, v string) (err error) { c.Blocklists, err = parseBlocklists(v); return err }},
		{"SIGNUPGUARD_ALLOWLIST", "", "comma-separated addresses or CIDRs never blocked by a list (an office, a monitor)",
			func(c *Config, v string) (err error) { c.Allowlist, err = parsePrefixes(v); return err }},
		{"SIGNUPGUARD_TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For is believed; empty: the client is the TCP peer",
			func(c *Config, v string) (err error) { c.TrustedProxies, err = parsePrefixes(v); return err }},
		{"SIGNUPGUARD_REFRESH_TIMEOUT", "60s", "refresh: time allowed for one blocklist download, connect to last byte",
			func(c *Config, v string) (err error) { c.RefreshTimeout, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_BLOCKLIST_MAX_MB", "64", "refresh: largest blocklist accepted, in MiB after gzip decoding",
			func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 || n > 4096 {
					return fmt.Errorf("want a whole number of MiB from 1 to 4096")
				}
				c.BlocklistMaxBytes = n << 20
				return nil
			}},
		{"SIGNUPGUARD_BLOCKLIST_MAX_SHRINK", "0.5", "refresh: refuse a list that lost more than this fraction of its entries since the last good copy (1 turns the guard off)",
			func(c *Config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !(f > 0 && f <= 1) {
					return fmt.Errorf("want a fraction above 0 and at most 1")
				}
				c.BlocklistMaxShrink = f
				return nil
			}},
		{"SIGNUPGUARD_RELOAD_INTERVAL", "30s", "serve: how often stored blocklists are checked for changes when no notification arrives",
			func(c *Config, v string) (err error) { c.ReloadInterval, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_BATCH_WINDOW", "0s", "extra wait for more signups before a batched insert leaves (batches form anyway while every database connection is busy); off inserts each signup on its own",
			func(c *Config, v string) (err error) {
				if v == "off" {
					c.Batch, c.BatchWindow = false, 0
					return nil
				}
				c.Batch = true
				c.BatchWindow, err = time.ParseDuration(v)
				if err == nil && (c.BatchWindow < 0 || c.BatchWindow > time.Second) {
					err = fmt.Errorf("want off or 0 to 1s")
				}
				return err
			}},
		{"SIGNUPGUARD_LOG_LEVEL", "info", "debug, info, warn or error",
			func(c *Config, v string) error {
				switch v {
				case "debug", "info", "warn", "error":
					c.LogLevel = v
					return nil
				}
				return fmt.Errorf("want debug, info, warn or error")
			}},
		{"SIGNUPGUARD_RATE_LIMIT", "5/min", "requests per client (an IPv4 address, an IPv6 /64): N/s, N/min or N/h, or off",
			func(c *Config, v string) (err error) { c.RateLimit, err = limit.ParseRate(v); return err }},
		{"SIGNUPGUARD_RATE_BURST", "3", "requests a client may make at once on top of the rate: at 5/min, 3 + 5 in its first minute, then 5 a minute",
			func(c *Config, v string) (err error) { c.RateBurst, err = parsePositiveInt(v); return err }},
		{"SIGNUPGUARD_NETWORK_RATE_LIMIT", "60/min", "requests per IPv4 /24 or IPv6 /48, all its clients together (burst: the same number), or off",
			func(c *Config, v string) (err error) { c.NetworkRateLimit, err = limit.ParseRate(v); return err }},
		{"SIGNUPGUARD_GLOBAL_RATE_LIMIT", "50/s", "requests of all clients together, a ceiling that shields DNS and Postgres (burst: the same number), or off",
			func(c *Config, v string) (err error) { c.GlobalRateLimit, err = limit.ParseRate(v); return err }},
		{"SIGNUPGUARD_BAN_STRIKES", "10", "a client refused more than this many times within SIGNUPGUARD_BAN_WINDOW (honeypot, invalid, undeliverable or disposable address, 429) is banned; 0 turns bans off",
			func(c *Config, v string) (err error) {
				c.BanStrikes, err = strconv.Atoi(v)
				if err == nil && c.BanStrikes < 0 {
					err = fmt.Errorf("must not be negative")
				}
				return err
			}},
		{"SIGNUPGUARD_BAN_WINDOW", "10m", "the window in which strikes are counted",
			func(c *Config, v string) (err error) { c.BanWindow, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_BAN_TIME", "15m", "length of a first ban; each repeat doubles it",
			func(c *Config, v string) (err error) { c.BanTime, err = parsePositiveDuration(v); return err }},
		{"SIGNUPGUARD_BAN_MAX_TIME", "24h", "longest ban; also how long after a ban ends a repeat still doubles",
			func(c *Config, v string) (err error) {
				c.BanMaxTime, err = parsePositiveDuration(v)
				if err == nil && c.BanMaxTime < c.BanTime {
					err = fmt.Errorf("shorter than SIGNUPGUARD_BAN_TIME (%s)", c.BanTime)
				}
				return err
			}},
		{"SIGNUPGUARD_LIMIT_KEYS", "100000", "clients, and networks, tracked in process at most; past it new ones share one bucket at the network rate",
			func(c *Config, v string) (err error) { c.LimitKeys, err = parsePositiveInt(v); return err }},
		{"REDIS_URL", "", "redis://, rediss:// or unix:// URL; when set, limits and bans are shared by all instances (in process while it is unreachable)",
			func(c *Config, v string) error {
				// The error names no part of v: it may hold a password.
				if _, err := redis.ParseURL(v); v != "" && err != nil {
					return fmt.Errorf("not a valid redis://, rediss:// or unix:// URL")
				}
				c.RedisURL = v
				return nil
			}},
		{"SIGNUPGUARD_HONEYPOT_FIELD", "website", "name of the hidden form field bots fill; a filled one is answered like a new address and nothing is stored",
			func(c *Config, v string) error {
				if !isFieldName(v) || slices.Contains([]string{"email", "list", "name", "redirect"}, v) {
					return fmt.Errorf("want a form field name (letters, digits, _ or -) other than email, list, name and redirect")
				}
				c.HoneypotField = v
				return nil
			}},
		{"SIGNUPGUARD_DISPOSABLE", "true", "refuse addresses at disposable-mail domains (422 disposable_email)",
			func(c *Config, v string) (err error) { c.Disposable, err = strconv.ParseBool(v); return err }},
		{"SIGNUPGUARD_DISPOSABLE_FILE", "", "file of extra disposable domains, one a line; a line !domain exempts that domain and those below it",
			func(c *Config, v string) error { c.DisposableFile = v; return nil }},
		{"SIGNUPGUARD_ADMIN_TOKEN", "", "bearer token for /admin/ (at least 16 characters); empty turns /admin/ off",
			func(c *Config, v string) error {
				if v != "" && len(v) < minAdminToken {
					return fmt.Errorf("too short: use at least %d characters", minAdminToken)
				}
				c.AdminToken = v
				return nil
			}},
		{"SIGNUPGUARD_CORS_ORIGINS", "", "comma-separated origins (https://www.example.org) of the websites whose forms post here: their scripts may read the answer, and their plain forms may be redirected back",
			func(c *Config, v string) (err error) { c.CORSOrigins, err = parseOrigins(v); return err }},
	}
}

func parsePositiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return n, err
}

// isFieldName reports whether v is a plain form field name.
func isFieldName(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, r := range v {
		if !(r == '_' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// minAdminToken is the shortest admin token accepted: a short one can be
// guessed over the network.
const minAdminToken = 16

// parseOrigins reads a comma-separated list of web origins as browsers send
// them in the Origin header: scheme://host[:port], nothing after.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, s := range splitList(v) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin like https://www.example.org", s)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// loadConfig reads every setting from getenv, using the default for unset
// or empty variables.
func loadConfig(getenv func(string) string) (Config, error) {
	var c Config
	for _, s := range settings() {
		v := strings.TrimSpace(getenv(s.Name))
		if v == "" {
			v = s.Default
		}
		if err := s.set(&c, v); err != nil {
			if strings.HasSuffix(s.Name, "_URL") {
				v = "..." // a URL may hold a password
			}
			return Config{}, fmt.Errorf("%s=%q: %w", s.Name, v, err)
		}
	}
	return c, nil
}

// writeSettings prints the settings table of --help.
func writeSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings() {
		def := s.Default
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, def, s.Help)
	}
	tw.Flush()
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return d, err
}

// defaultBlocklists are the lists the README recommends: Spamhaus DROP for
// IPv4 and IPv6, hijacked and criminal networks. They hold no loopback or
// private ranges, so a local client or a proxy on a private network is not
// blocked out of the box (FireHOL's level1, by contrast, lists the bogons).
const defaultBlocklists = "spamhaus_drop=https://www.spamhaus.org/drop/drop_v4.json," +
	"spamhaus_dropv6=https://www.spamhaus.org/drop/drop_v6.json"

// BlocklistSource is one entry of SIGNUPGUARD_BLOCKLISTS.
type BlocklistSource struct {
	Name     string // names the list in logs, metrics and verdicts
	Location string // an http(s) URL or a file path
}

var blocklistName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseBlocklists reads "name=location,...", or "none".
func parseBlocklists(v string) ([]BlocklistSource, error) {
	if v == "none" {
		return nil, nil
	}
	var out []BlocklistSource
	seen := map[string]bool{}
	for _, item := range splitList(v) {
		name, loc, ok := strings.Cut(item, "=")
		name, loc = strings.TrimSpace(name), strings.TrimSpace(loc)
		switch {
		case !ok || loc == "":
			return nil, fmt.Errorf("%q: want name=location", item)
		case !blocklistName.MatchString(name):
			return nil, fmt.Errorf("%q: a name is 1 to 64 letters, digits, dots, dashes or underscores", name)
		case seen[name]:
			return nil, fmt.Errorf("%q: name used twice", name)
		}
		seen[name] = true
		src := BlocklistSource{Name: name, Location: loc}
		if strings.Contains(loc, "://") {
			u, err := url.Parse(loc)
			if err != nil || !blocklist.IsURL(loc) || u.Host == "" {
				return nil, fmt.Errorf("%q: a URL must be http:// or https:// with a host", loc)
			}
		}
		out = append(out, src)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no lists given (use none for no lists)")
	}
	return out, nil
}

// parsePrefixes reads comma-separated addresses and CIDRs, normalised as
// the blocklists are (IPv4-mapped IPv6 unmapped, masked).
func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, blocklist.Normalize(p))
	}
	return out, nil
}
