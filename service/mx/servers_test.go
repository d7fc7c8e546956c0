package mx

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseServers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "192.0.2.53", want: []string{"192.0.2.53:53"}},
		{in: "192.0.2.53:5353", want: []string{"192.0.2.53:5353"}},
		{in: " 192.0.2.53 , 198.51.100.53:53 ", want: []string{"192.0.2.53:53", "198.51.100.53:53"}},
		{in: "2001:db8::53", want: []string{"[2001:db8::53]:53"}},
		{in: "[2001:db8::53]", want: []string{"[2001:db8::53]:53"}},
		{in: "[2001:db8::53]:5353", want: []string{"[2001:db8::53]:5353"}},
		{in: "192.0.2.53,,", want: []string{"192.0.2.53:53"}},
		{in: "", bad: true},
		{in: " , ", bad: true},
		{in: "dns.example.com", bad: true},
		{in: "dns.example.com:53", bad: true},
		{in: "192.0.2.53:0", bad: true},
		{in: "192.0.2.53:99999", bad: true},
		{in: "192.0.2.300", bad: true},
		{in: "192.0.2.53:dns", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseServers(tt.in)
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("ParseServers(%q) = %q, %v; want %q, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func FuzzParseServers(f *testing.F) {
	for _, s := range []string{"192.0.2.53", "[2001:db8::53]:53", "a,b", "1.2.3.4:0", "::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseServers(s)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > strings.Count(s, ",")+1 {
			t.Fatalf("ParseServers(%q) = %q", s, got)
		}
		for _, a := range got {
			if ap, err := netip.ParseAddrPort(a); err != nil || ap.Port() == 0 {
				t.Fatalf("ParseServers(%q) gave %q, not an address with a port", s, a)
			}
		}
	})
}

func TestSystemServers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := SystemServers(write("two", "# comment\nsearch corp.example.com\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:5\n"))
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("SystemServers = %q, %v; want %q", got, err, want)
	}
	if got, err := SystemServers(write("none", "search corp.example.com\n")); err == nil {
		t.Errorf("SystemServers of a file without nameserver = %q, want an error", got)
	}
	if got, err := SystemServers(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("SystemServers of a missing file = %q, want an error", got)
	}
}
