package api_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/api"
)

func TestMetrics(t *testing.T) {
	s := newLiveServer(t, api.Config{}, parts{})
	const js = "application/json"
	s.do(t, "POST", "/subscribe", js, `{"email":"jane@example.com"}`)
	s.do(t, "POST", "/subscribe", js, `{"email":"jane@example.com"}`)
	s.do(t, "POST", "/subscribe", js, `{"email":"jane@localhost"}`)
	s.do(t, "GET", "/healthz", "", "")
	s.do(t, "GET", "/no/such/page/1", "", "")
	s.do(t, "GET", "/no/such/page/2", "", "")

	want := `
# HELP signupguard_http_requests_total HTTP requests answered, by route, status code and outcome (an error code, or created/duplicate/honeypot).
# TYPE signupguard_http_requests_total counter
signupguard_http_requests_total{code="202",outcome="created",route="/subscribe"} 1
signupguard_http_requests_total{code="202",outcome="duplicate",route="/subscribe"} 1
signupguard_http_requests_total{code="422",outcome="invalid_email",route="/subscribe"} 1
signupguard_http_requests_total{code="200",outcome="none",route="/healthz"} 1
signupguard_http_requests_total{code="404",outcome="not_found",route="unmatched"} 2
`
	if err := testutil.GatherAndCompare(s.reg, strings.NewReader(want), "signupguard_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(s.reg, "signupguard_http_request_duration_seconds"); n != 3 {
		t.Errorf("latency histogram has %d series, want 3 (one per route: /subscribe, /healthz, unmatched)", n)
	}

	// /metrics serves the registry, histogram included.
	_, body := s.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{
		`signupguard_http_request_duration_seconds_count{route="/subscribe"} 3`,
		`signupguard_http_requests_total{code="202",outcome="created",route="/subscribe"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestRequestLog(t *testing.T) {
	s := newLiveServer(t, api.Config{}, parts{})
	// A client sends CR and LF hoping to forge a log line.
	s.do(t, "POST", "/subscribe", "application/x-www-form-urlencoded",
		"email=jane.doe%40example.com%0D%0A%7B%22msg%22%3A%22forged%22%7D")
	s.do(t, "POST", "/subscribe", "application/json", `{"email":"jane.doe@example.com"}`)

	logs := s.log.String()
	if strings.Contains(logs, "jane.doe") {
		t.Errorf("log holds the full address:\n%s", logs)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not one JSON object (forged?): %q", sc.Text())
		}
		lines = append(lines, line)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), logs)
	}
	if got := lines[0]["email"]; got != "j***@example.com\r\n{\"msg\":\"forged\"}" {
		t.Errorf("first line's email = %q, want the masked address with CR LF kept as escaped data", got)
	}
	second := lines[1]
	if second["email"] != "j***@example.com" || second["outcome"] != "created" || second["status"] != 202.0 ||
		second["route"] != "/subscribe" || second["client"] != "127.0.0.0/24" || second["id"] == "" {
		t.Errorf("request line = %v", second)
	}
	if ms, ok := second["latency_ms"].(float64); !ok || ms <= 0 {
		t.Errorf("latency_ms = %v, want a positive number of milliseconds", second["latency_ms"])
	}
}
