package mx

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// resolvConf is where the system's resolvers are listed.
const resolvConf = "/etc/resolv.conf"

// ParseServers parses a comma-separated list of DNS servers, each an IP
// address with an optional port (53 by default): "192.0.2.53",
// "192.0.2.53:5353", "[2001:db8::53]:53". Host names are refused, since
// resolving them would need the very resolver being configured.
func ParseServers(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(f); err == nil {
			if ap.Port() == 0 {
				return nil, fmt.Errorf("DNS server %q: port 0", f)
			}
			out = append(out, ap.String())
			continue
		}
		ip, err := netip.ParseAddr(strings.Trim(f, "[]"))
		if err != nil {
			return nil, fmt.Errorf("DNS server %q: want an IP address, optionally with :port", f)
		}
		out = append(out, netip.AddrPortFrom(ip, 53).String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no DNS server given")
	}
	return out, nil
}

// SystemServers returns the nameservers listed in the resolv.conf file at
// path, as host:port.
func SystemServers(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read DNS servers: %w", err)
	}
	if len(cc.Servers) == 0 {
		return nil, fmt.Errorf("read DNS servers: %s lists no nameserver", path)
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out, nil
}
