package service_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mock"
	"github.com/signupguard/signupguard/sql/sqltest"
)

func TestCheck(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Open(t)
	listed := netip.MustParsePrefix("5.6.7.0/24")
	signup := service.NewSignup(db,
		&mock.IPChecker{LookupFn: func(ip netip.Addr) (string, netip.Prefix, bool) {
			return "spamhaus_drop", listed, listed.Contains(ip)
		}},
		// A dry run must neither spend nor strike the client's allowance.
		&mock.Limiter{
			AllowFn: func(context.Context, netip.Addr) error { t.Error("Check consulted the rate limit"); return nil },
			StrikeFn: func(_ context.Context, _ netip.Addr, why service.Code) {
				t.Errorf("Check struck the client for %s", why)
			},
		},
		&mock.DomainChecker{IsDisposableFn: func(d string) bool { return d == "mailinator.com" }},
		&mock.MXExplainer{
			MXVerifier: mock.MXVerifier{VerifyMXFn: func(ctx context.Context, d string) error {
				if d == "nomail.example.com" {
					return &service.Error{Code: service.CodeUndeliverable, Message: "That domain cannot receive mail.", Err: errNullMX}
				}
				return nil
			}},
			ExplainMXFn: func(ctx context.Context, d string) []string {
				if d == "nomail.example.com" {
					return []string{"nomail.example.com. 300 IN MX 0 ."}
				}
				return []string{d + ". 300 IN MX 10 mx." + d + ".", "mx." + d + ". 300 IN A 192.0.2.25"}
			},
		},
		service.Config{})

	tests := []struct {
		name      string
		req       service.Request
		wantCode  service.Code // "" for accept
		wantSteps []string
		want      []string // in the findings' details
	}{
		{name: "IPListed", req: service.Request{Client: netip.MustParseAddr("5.6.7.8")}, wantCode: service.CodeBlockedIP,
			wantSteps: []string{"blocklist"}, want: []string{"spamhaus_drop", "5.6.7.0/24"}},
		{name: "IPClean", req: service.Request{Client: netip.MustParseAddr("192.0.2.1")},
			wantSteps: []string{"blocklist"}, want: []string{"192.0.2.1 is on no blocklist"}},
		{name: "EmailOK", req: service.Request{Email: "Jane.Doe+news@GoogleMail.com"},
			wantSteps: []string{"list", "email", "disposable", "mx"},
			want:      []string{"dedupe key janedoe@gmail.com", "DNS: googlemail.com. 300 IN MX 10 mx.googlemail.com.", "IN A 192.0.2.25"}},
		{name: "EmailSyntax", req: service.Request{Email: "jane@localhost"}, wantCode: service.CodeInvalidEmail,
			wantSteps: []string{"list", "email"}, want: []string{"invalid_email: dotless domain"}},
		{name: "EmailDisposable", req: service.Request{Email: "x@mailinator.com"}, wantCode: service.CodeDisposable,
			wantSteps: []string{"list", "email", "disposable"}},
		{name: "EmailNullMX", req: service.Request{Email: "x@nomail.example.com"}, wantCode: service.CodeUndeliverable,
			wantSteps: []string{"list", "email", "disposable", "mx"}, want: []string{"null MX", "DNS: nomail.example.com. 300 IN MX 0 ."}},
		{name: "BothListedIPFirst", req: service.Request{Client: netip.MustParseAddr("5.6.7.8"), Email: "jane@example.com"},
			wantCode: service.CodeBlockedIP, wantSteps: []string{"blocklist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := signup.Check(ctx, tt.req)
			if got := service.ErrorCode(err); got != tt.wantCode || (err != nil && tt.wantCode == "") {
				t.Errorf("err = %v, want code %q", err, tt.wantCode)
			}
			var steps []string
			var details strings.Builder
			for _, f := range found {
				steps = append(steps, f.Step)
				details.WriteString(f.Detail + "\n")
			}
			if strings.Join(steps, ",") != strings.Join(tt.wantSteps, ",") {
				t.Errorf("steps %v, want %v", steps, tt.wantSteps)
			}
			for _, w := range tt.want {
				if !strings.Contains(details.String(), w) {
					t.Errorf("findings lack %q:\n%s", w, details.String())
				}
			}
		})
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from subscribers").Scan(&n); err != nil || n != 0 {
		t.Errorf("Check stored %d rows (%v), want none", n, err)
	}
}

var errNullMX = errors.New("nomail.example.com has a null MX (RFC 7505)")

// TestCheckMXTempfailAccepted: with AcceptMXTempfail, a domain whose DNS
// failed passes the MX step, and check says it was not verified.
func TestCheckMXTempfailAccepted(t *testing.T) {
	signup := service.NewSignup(sqltest.Open(t), nil, nil, nil,
		&mock.MXVerifier{VerifyMXFn: func(ctx context.Context, d string) error {
			return &service.Error{Code: service.CodeUnavailable, Message: "Try again.", Err: errors.New("SERVFAIL from 192.0.2.53")}
		}},
		service.Config{AcceptMXTempfail: true})
	found, err := signup.Check(context.Background(), service.Request{Email: "jane@slowdns.example.com"})
	if err != nil || len(found) == 0 {
		t.Fatalf("Check = %v, %v; want the MX step passed", found, err)
	}
	mx := found[len(found)-1]
	if mx.Step != "mx" || strings.Contains(mx.Detail, "can receive mail") || !strings.Contains(mx.Detail, "not verified") || !strings.Contains(mx.Detail, "SERVFAIL") {
		t.Errorf("MX finding %+v, want it not verified, naming the failure", mx)
	}
}
