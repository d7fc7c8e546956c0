package service_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mock"
	"github.com/signupguard/signupguard/sql/sqltest"
)

// TestAdmit: the client checks run in order (blocklist before limit), and
// Subscribe stores for the admitted client only; without an Admission it
// refuses, so no caller can skip the client checks.
func TestAdmit(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	listed := netip.MustParsePrefix("203.0.113.0/24")
	var allowed []netip.Addr
	signup := service.NewSignup(db,
		&mock.IPChecker{LookupFn: func(ip netip.Addr) (string, netip.Prefix, bool) {
			return "drop", listed, listed.Contains(ip)
		}},
		&mock.Limiter{
			AllowFn: func(_ context.Context, c netip.Addr) error {
				allowed = append(allowed, c)
				if c == netip.MustParseAddr("198.51.100.9") {
					return &service.Error{Code: service.CodeRateLimited, Message: "slow down"}
				}
				return nil
			},
			StrikeFn: func(context.Context, netip.Addr, service.Code) {},
		}, nil, nil, service.Config{})

	if _, err := signup.Admit(ctx, netip.MustParseAddr("203.0.113.5")); service.ErrorCode(err) != service.CodeBlockedIP {
		t.Fatalf("listed client: %v, want blocked_ip", err)
	}
	if len(allowed) != 0 {
		t.Fatalf("a listed client spent rate limit: %v", allowed)
	}
	if _, err := signup.Admit(ctx, netip.MustParseAddr("198.51.100.9")); service.ErrorCode(err) != service.CodeRateLimited {
		t.Fatalf("limited client: %v, want rate_limited", err)
	}

	client := netip.MustParseAddr("192.0.2.1")
	adm, err := signup.Admit(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	// req.Client is ignored: the admission names the client.
	v, err := signup.Subscribe(ctx, adm, service.Request{Client: netip.MustParseAddr("203.0.113.5"), Email: "a@example.org"})
	if err != nil || v.Outcome != service.Created {
		t.Fatalf("Subscribe = %+v, %v", v, err)
	}
	var ip string
	if err := db.Pool.QueryRow(ctx, "select host(client_ip) from subscribers").Scan(&ip); err != nil || ip != client.String() {
		t.Fatalf("stored client %q (%v), want %s", ip, err, client)
	}

	if _, err := signup.Subscribe(ctx, service.Admission{}, service.Request{Email: "b@example.org"}); err == nil {
		t.Fatal("Subscribe without an Admission succeeded")
	}
}
