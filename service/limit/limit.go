// Package limit implements service.Limiter: token-bucket rate limits per
// client, per network and overall, and fail2ban-like escalating bans, either
// in process (Memory) or shared by every instance through Redis (Redis).
package limit

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/signupguard/signupguard/service"
)

// Config holds the limits and the ban policy. A zero Rate turns that limit
// off; Strikes == 0 turns bans off.
type Config struct {
	Client  Rate // per client key: an IPv4 address or an IPv6 /64
	Network Rate // per IPv4 /24 or IPv6 /48: bots spread over one network
	Global  Rate // every client together: a ceiling that protects DNS and the database

	// A client refused for abuse more than Strikes times within
	// StrikeWindow is banned for BanTime, doubled for each earlier ban it
	// is remembered for, up to MaxBanTime. A ban is remembered for
	// MaxBanTime after it ends.
	Strikes      int
	StrikeWindow time.Duration
	BanTime      time.Duration
	MaxBanTime   time.Duration

	// MaxKeys caps the clients and the networks each tracked in process.
	// Past it, new keys share one overflow bucket (at the Network rate).
	MaxKeys int

	// RedisTimeout bounds each Redis call of a Redis limiter; zero means
	// DefaultRedisTimeout.
	RedisTimeout time.Duration

	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig is the configuration signupguard serves with unless told
// otherwise. The per-client burst is small: a person retyping an address
// needs two or three tries, a script needs hundreds.
func DefaultConfig() Config {
	return Config{
		Client:       Rate{N: 5, Per: time.Minute, Burst: 3},
		Network:      Rate{N: 60, Per: time.Minute, Burst: 60},
		Global:       Rate{N: 50, Per: time.Second, Burst: 50},
		Strikes:      10,
		StrikeWindow: 10 * time.Minute,
		BanTime:      15 * time.Minute,
		MaxBanTime:   24 * time.Hour,
		MaxKeys:      100_000,
	}
}

func (c Config) validate() error {
	for _, r := range []struct {
		name string
		r    Rate
	}{{"client", c.Client}, {"network", c.Network}, {"global", c.Global}} {
		if !r.r.IsZero() && (r.r.N <= 0 || r.r.Per <= 0 || r.r.Burst <= 0) {
			return fmt.Errorf("limit: %s rate %v: need a positive count, period and burst", r.name, r.r)
		}
	}
	if c.Strikes < 0 {
		return errors.New("limit: negative strike count")
	}
	if c.Strikes > 0 && (c.StrikeWindow <= 0 || c.BanTime <= 0 || c.MaxBanTime < c.BanTime) {
		return errors.New("limit: bans need a positive strike window and ban time, and a ceiling no shorter than the ban time")
	}
	if c.MaxKeys <= 0 {
		return errors.New("limit: the key cap must be positive")
	}
	return nil
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// banTime returns how long the ban after level earlier ones lasts.
func (c Config) banTime(level int) time.Duration {
	if level >= 62 {
		return c.MaxBanTime
	}
	d := float64(c.BanTime) * math.Pow(2, float64(level))
	if d >= float64(c.MaxBanTime) {
		return c.MaxBanTime
	}
	return time.Duration(d)
}

// ClientKey returns the key a client is limited by: its IPv4 address (/32),
// or the /64 of its IPv6 address, since one subscriber line gets a whole /64
// and could otherwise pick a fresh address per request. IPv4-mapped IPv6
// addresses count as IPv4. The zero Addr (a peer that is not an IP) keys as
// the zero Prefix, so all such peers share one bucket.
func ClientKey(ip netip.Addr) netip.Prefix {
	return keyOf(ip, 32, 64)
}

// NetworkKey returns the coarser key of ip's network: its IPv4 /24 or IPv6
// /48, the usual smallest allocation to one customer site.
func NetworkKey(ip netip.Addr) netip.Prefix {
	return keyOf(ip, 24, 48)
}

func keyOf(ip netip.Addr, bits4, bits6 int) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := bits6
	if ip.Is4() {
		bits = bits4
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// ParseKey reads a key as Ban.Key prints it, or any address, which stands
// for its client key, so "/admin/bans/2001:db8::1" lifts the ban of
// 2001:db8::/64. A string that is neither is an *service.Error with
// CodeInvalidRequest.
func ParseKey(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ClientKey(ip), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, service.Errorf(service.CodeInvalidRequest, "%q is neither an address nor a client key.", s)
	}
	if k := ClientKey(p.Addr()); k != p.Masked() {
		return netip.Prefix{}, service.Errorf(service.CodeInvalidRequest, "%s is not a client key; a client is an IPv4 address or an IPv6 /64 (%s).", s, k)
	}
	return p.Masked(), nil
}

// Ban is one banned client, for the admin API.
type Ban struct {
	Key   netip.Prefix `json:"key"`   // the client key: an IPv4 /32 or an IPv6 /64
	Until time.Time    `json:"until"` // when the ban ends
	Level int          `json:"level"` // 1 for a first ban; each repeat doubles its length
}

// refusal is the answer to a request over a limit or from a banned client.
func refusal(wait time.Duration, banned bool) *service.Error {
	msg := "Too many signups from your network. Please try again later."
	if banned {
		msg = "Signups from your network are paused for a while. Please try again later."
	}
	return &service.Error{Code: service.CodeRateLimited, Message: msg, RetryAfter: wait}
}
