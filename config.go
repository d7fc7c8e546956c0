package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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
	ShutdownTimeout  time.Duration
	LogLevel         string
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
		{"SIGNUPGUARD_LOG_LEVEL", "info", "debug, info, warn or error",
			func(c *Config, v string) error {
				switch v {
				case "debug", "info", "warn", "error":
					c.LogLevel = v
					return nil
				}
				return fmt.Errorf("want debug, info, warn or error")
			}},
	}
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
