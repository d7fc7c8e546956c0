package main

import (
	"slices"
	"testing"
	"time"
)

func TestLoadConfigMX(t *testing.T) {
	tests := []struct {
		env     map[string]string
		servers []string
		timeout time.Duration
		accept  bool
		bad     bool
	}{
		{env: map[string]string{}, timeout: 3 * time.Second},
		{env: map[string]string{"SIGNUPGUARD_DNS_SERVERS": "192.0.2.53, [2001:db8::53]:5353"},
			servers: []string{"192.0.2.53:53", "[2001:db8::53]:5353"}, timeout: 3 * time.Second},
		{env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "500ms", "SIGNUPGUARD_MX_TEMPFAIL": "accept"}, timeout: 500 * time.Millisecond, accept: true},
		{env: map[string]string{"SIGNUPGUARD_MX_TEMPFAIL": "reject"}, timeout: 3 * time.Second},
		{env: map[string]string{"SIGNUPGUARD_DNS_SERVERS": "dns.example.com"}, bad: true},
		{env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "0s"}, bad: true},
		{env: map[string]string{"SIGNUPGUARD_MX_TIMEOUT": "3"}, bad: true},
		{env: map[string]string{"SIGNUPGUARD_MX_TEMPFAIL": "maybe"}, bad: true},
	}
	for _, tt := range tests {
		c, err := loadConfig(env(tt.env))
		if (err != nil) != tt.bad {
			t.Errorf("loadConfig(%v): err %v, want bad=%v", tt.env, err, tt.bad)
			continue
		}
		if err == nil && (!slices.Equal(c.DNSServers, tt.servers) || c.MXTimeout != tt.timeout || c.AcceptMXTempfail != tt.accept) {
			t.Errorf("loadConfig(%v) = servers %q timeout %v accept %v; want %q %v %v", tt.env, c.DNSServers, c.MXTimeout, c.AcceptMXTempfail, tt.servers, tt.timeout, tt.accept)
		}
	}
}
