package limit

import (
	"net/netip"
	"testing"
	"time"
)

func TestClientKey(t *testing.T) {
	tests := []struct {
		ip            string
		client, netwk string
	}{
		{"192.0.2.7", "192.0.2.7/32", "192.0.2.0/24"},
		{"::ffff:192.0.2.7", "192.0.2.7/32", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64", "2001:db8:1::/48"},
		{"fe80::1%eth0", "fe80::/64", "fe80::/48"},
		{"::1", "::/64", "::/48"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			if got := ClientKey(ip); got != netip.MustParsePrefix(tt.client) {
				t.Errorf("ClientKey = %v, want %v", got, tt.client)
			}
			if got := NetworkKey(ip); got != netip.MustParsePrefix(tt.netwk) {
				t.Errorf("NetworkKey = %v, want %v", got, tt.netwk)
			}
		})
	}
	if got := ClientKey(netip.Addr{}); got.IsValid() {
		t.Errorf("ClientKey(zero Addr) = %v, want the zero Prefix", got)
	}
	// Two addresses of one /64 are one client; of two /64s, two clients.
	a, b, c := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:1"), netip.MustParseAddr("2001:db8:0:1::1")
	if ClientKey(a) != ClientKey(b) || ClientKey(a) == ClientKey(c) {
		t.Errorf("keys: %v %v %v", ClientKey(a), ClientKey(b), ClientKey(c))
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want string
		bad  bool
	}{
		{in: "192.0.2.7", want: "192.0.2.7/32"},
		{in: "192.0.2.7/32", want: "192.0.2.7/32"},
		{in: "2001:db8::1", want: "2001:db8::/64"},
		{in: "2001:db8::/64", want: "2001:db8::/64"},
		{in: "::ffff:192.0.2.7", want: "192.0.2.7/32"},
		{in: "192.0.2.0/24", bad: true},
		{in: "2001:db8::/48", bad: true},
		{in: "banana", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseKey(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("ParseKey(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		bad  bool
	}{
		{in: "5/min", want: Rate{5, time.Minute, 5}},
		{in: "5/m", want: Rate{5, time.Minute, 5}},
		{in: " 10 / s ", want: Rate{10, time.Second, 10}},
		{in: "1/sec", want: Rate{1, time.Second, 1}},
		{in: "100/h", want: Rate{100, time.Hour, 100}},
		{in: "3/HOUR", want: Rate{3, time.Hour, 3}},
		{in: "off", want: Rate{}},
		{in: "OFF", want: Rate{}},
		{in: "0/min", bad: true},
		{in: "-1/min", bad: true},
		{in: "5", bad: true},
		{in: "5/day", bad: true},
		{in: "five/min", bad: true},
		{in: "5.5/min", bad: true},
		{in: "1000001/s", bad: true},
		{in: "", bad: true},
		{in: "/min", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseRate(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if back, err := ParseRate(got.String()); err != nil || back != got {
				t.Errorf("ParseRate(String()) = %+v, %v", back, err)
			}
		})
	}
}

func TestBanTime(t *testing.T) {
	c := Config{BanTime: 15 * time.Minute, MaxBanTime: 24 * time.Hour}
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	for level, w := range want {
		if got := c.banTime(level); got != w {
			t.Errorf("banTime(%d) = %v, want %v", level, got, w)
		}
	}
	if got := c.banTime(1000); got != c.MaxBanTime {
		t.Errorf("banTime(1000) = %v", got)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"5/min", "off", "10/s", "1/h", "0/min", "9999999999999999999/s", "5/", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.IsZero() {
			return
		}
		if r.N <= 0 || r.Per <= 0 || r.Burst != r.N || r.limit() <= 0 || r.interval() <= 0 {
			t.Fatalf("ParseRate(%q) = %+v", s, r)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "2001:db8::/64", "::ffff:1.2.3.4", "1.2.3.4/33", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if k != ClientKey(k.Addr()) {
			t.Fatalf("ParseKey(%q) = %v, not a client key", s, k)
		}
	})
}
