package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// ctxClient is the gin context key of the client address withClientIP decided.
const ctxClient = "signupguard.client"

// withClientIP decides each request's client address once, for the
// handlers and the request log.
func withClientIP(trusted []netip.Prefix) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(ctxClient, clientIP(c.Request, trusted))
		c.Next()
	}
}

// clientOf returns the address withClientIP stored, or the zero Addr.
func clientOf(c *gin.Context) netip.Addr {
	ip, _ := c.Value(ctxClient).(netip.Addr)
	return ip
}

// clientIP returns the address r came from. That is the TCP peer, unless
// the peer is a trusted proxy: then X-Forwarded-For is read from the right,
// since each proxy appends the address it received the request from, and
// the first address that is not a trusted proxy is the client. Entries to
// its left were written by the client itself and are never believed.
//
// An entry that is not an address means a trusted proxy passed on what it
// did not write (a misconfiguration): the walk stops and the last trusted
// hop is the client, so garbage can never name an address of its choosing.
// Only X-Forwarded-For is read; X-Real-IP and Forwarded are ignored, since a
// proxy that does not overwrite them lets the client set them.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	client := peerIP(r)
	if !isTrusted(client, trusted) {
		return client
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, ok := parseHop(hops[j])
			if !ok {
				return client
			}
			client = hop
			if !isTrusted(client, trusted) {
				return client
			}
		}
	}
	return client
}

// peerIP returns the TCP peer of r, normalised, or the zero Addr when the
// peer is not an IP (a test transport, a unix socket).
func peerIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap().WithZone("")
}

// parseHop reads one X-Forwarded-For entry: an address, optionally with a
// port or in brackets, as some proxies write them.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	ip, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
			if ip, err = netip.ParseAddr(s); err != nil {
				return netip.Addr{}, false
			}
		} else {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap().WithZone("")
	return ip, ip.IsValid()
}

// isTrusted reports whether ip is inside one of the trusted prefixes.
func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
