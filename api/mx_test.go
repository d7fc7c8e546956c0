package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mx"
)

// mxZone has one domain per MX verdict the API reports.
var mxZone = []string{
	"example.com. 3600 IN SOA ns.example.com. hostmaster.example.com. 1 7200 3600 1209600 60",
	"ok.example.com. 300 IN MX 10 mx.ok.example.com.",
	"mx.ok.example.com. 300 IN A 1.2.3.4",
	"nullmx.example.com. 300 IN MX 0 .",
	"private.example.com. 300 IN A 10.0.0.1",
	"servfail.example.com. 300 IN MX 10 mx.ok.example.com.",
}

// newMXServer serves the API with a real Postgres store and an MX verifier
// asking dnsAddr, under the tempfail policy given.
func newMXServer(t *testing.T, dnsAddr string, acceptTempfail bool) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	verifier, err := mx.New(mx.Config{Servers: []string{dnsAddr}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return newRecorded(t, api.Config{}, parts{mx: verifier, reg: reg,
		svc: service.Config{MXTimeout: time.Second, AcceptMXTempfail: acceptTempfail}})
}

func TestSubscribeMX(t *testing.T) {
	tests := []struct {
		name       string
		email      string
		accept     bool // SIGNUPGUARD_MX_TEMPFAIL=accept
		status     int
		code       string
		retryAfter string
		stored     int
	}{
		{name: "OK", email: "jane@ok.example.com", status: http.StatusAccepted, stored: 1},
		{name: "ErrNXDOMAIN", email: "jane@nosuch.example.com", status: http.StatusUnprocessableEntity, code: "undeliverable_domain"},
		{name: "ErrNullMX", email: "jane@nullmx.example.com", status: http.StatusUnprocessableEntity, code: "undeliverable_domain"},
		{name: "ErrPrivateOnly", email: "jane@private.example.com", status: http.StatusUnprocessableEntity, code: "undeliverable_domain"},
		{name: "ErrTempfailReject", email: "jane@servfail.example.com", status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: "5"},
		{name: "TempfailAccept", email: "jane@servfail.example.com", accept: true, status: http.StatusAccepted, stored: 1},
		{name: "UndeliverableDespiteAccept", email: "jane@nullmx.example.com", accept: true, status: http.StatusUnprocessableEntity, code: "undeliverable_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := testenv.NewDNS(t, mxZone...)
			dns.SetMode("servfail.example.com.", testenv.DNSServFail)
			s := newMXServer(t, dns.Addr(), tt.accept)
			w := s.do("POST", "/subscribe", "application/json", `{"email":"`+tt.email+`"}`)
			code, retry := errorCode(t, w.Body.Bytes()), w.Header().Get("Retry-After")
			if w.Code != tt.status || code != tt.code || retry != tt.retryAfter {
				t.Errorf("POST %s: %d %q Retry-After %q; want %d %q Retry-After %q", tt.email, w.Code, code, retry, tt.status, tt.code, tt.retryAfter)
			}
			if got := s.rows(t); got != tt.stored {
				t.Errorf("%d rows stored, want %d", got, tt.stored)
			}
		})
	}
}

// TestSubscribeMXSilentDNS pins that a DNS server that never answers gets
// the client a 503 with Retry-After, not a hung request; the time it takes
// is the MX timeout, measured and logged here, never asserted.
func TestSubscribeMXSilentDNS(t *testing.T) {
	dns := testenv.NewDNS(t)
	dns.SetMode("", testenv.DNSSilent)
	s := newMXServer(t, dns.Addr(), false)
	start := time.Now()
	w := s.do("POST", "/subscribe", "application/json", `{"email":"jane@ok.example.com"}`)
	t.Logf("answer after %v (MX timeout 1s)", time.Since(start))
	if code := errorCode(t, w.Body.Bytes()); w.Code != http.StatusServiceUnavailable || code != "unavailable" || w.Header().Get("Retry-After") == "" {
		t.Errorf("POST with a silent DNS server: %d %q Retry-After %q; want 503 unavailable with Retry-After", w.Code, code, w.Header().Get("Retry-After"))
	}
	if got := s.rows(t); got != 0 {
		t.Errorf("%d rows stored, want 0", got)
	}
}
