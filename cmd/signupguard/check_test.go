package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
)

func TestCheckCommand(t *testing.T) {
	ctx := context.Background()
	dns := testenv.NewDNS(t,
		"example.com. 300 IN MX 10 mx.example.com.",
		"mx.example.com. 300 IN A 93.184.215.14",
	)
	dns.SetMode("servfail.example.net.", testenv.DNSServFail)
	vars := map[string]string{
		"DATABASE_URL":            testenv.PostgresURL(t),
		"SIGNUPGUARD_DNS_SERVERS": dns.Addr(),
		"SIGNUPGUARD_LOG_LEVEL":   "error",
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"signupguard", "migrate"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errOut.String())
	}

	tests := []struct {
		name     string
		args     []string
		vars     map[string]string
		wantExit int
		wantOut  []string
	}{
		{name: "Accept", args: []string{"jane.doe@example.com"}, wantExit: 0,
			wantOut: []string{"check jane.doe@example.com", "email", "address jane.doe@example.com", "mx          example.com can receive mail",
				"\n    DNS: example.com. MX 10 mx.example.com.\n    DNS: mx.example.com. A 93.184.215.14\n",
				"DNS: verdict from these answers, not the cache", "\naccept\n"}},
		{name: "RejectNXDOMAIN", args: []string{"jane@nowhere.example.net"}, wantExit: 1,
			wantOut: []string{"mx", "NXDOMAIN", "DNS: nowhere.example.net. NXDOMAIN", "reject: undeliverable_domain"}},
		{name: "ErrDNS", args: []string{"jane@servfail.example.net"}, wantExit: 2,
			wantOut: []string{"error: unavailable"}},
		{name: "AcceptIP", args: []string{"192.0.2.1"}, wantExit: 0, wantOut: []string{"\naccept\n"}},
		{name: "RejectSyntax", args: []string{"jane@shop.test"}, wantExit: 1,
			wantOut: []string{"invalid_email: special-use domain", "\nreject: invalid_email\n"}},
		{name: "RejectList", args: []string{"jane@bücher.de"}, vars: map[string]string{"SIGNUPGUARD_LISTS": "weekly"}, wantExit: 1,
			wantOut: []string{"reject: unknown_list"}},
		{name: "ErrNoArgument", args: nil, wantExit: 2},
		{name: "ErrTwoArguments", args: []string{"a@example.com", "b@example.com"}, wantExit: 2},
		{name: "ErrNoDatabase", args: []string{"jane@example.com"}, vars: map[string]string{"DATABASE_URL": " "}, wantExit: 2},
		{name: "ErrBadSetting", args: []string{"jane@example.com"}, vars: map[string]string{"SIGNUPGUARD_CORS_ORIGINS": "not an origin"}, wantExit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := map[string]string{}
			for k, x := range vars {
				v[k] = x
			}
			for k, x := range tt.vars {
				v[k] = x
			}
			var out, errOut bytes.Buffer
			err := run(ctx, append([]string{"signupguard", "check"}, tt.args...), env(v), &out, &errOut)
			got := 0
			if err != nil {
				got = exitCode(err)
			}
			if got != tt.wantExit {
				t.Errorf("exit %d (%v), want %d\n%s", got, err, tt.wantExit, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
