package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"
	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/service/mock"
	"github.com/signupguard/signupguard/sql"
)

// openAPI loads api/openapi.yaml and returns a router over it.
func openAPI(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// validate checks a real answer against the document: its status must be
// listed for the route, and its headers and body must fit the schema.
func validate(t *testing.T, router routers.Router, req *http.Request, resp *http.Response, body string) error {
	t.Helper()
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(strings.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// TestOpenAPI sends requests that produce every documented answer and
// validates each real answer against api/openapi.yaml.
func TestOpenAPI(t *testing.T) {
	_, router := openAPI(t)

	blocked := netip.MustParsePrefix("127.0.0.0/8")
	s := newLiveServer(t, api.Config{AdminToken: token, CORSOrigins: []string{site}}, parts{
		// Stand-ins refuse by address, so one server gives every answer.
		ips: &mock.IPChecker{LookupFn: func(ip netip.Addr) (string, netip.Prefix, bool) { return "", netip.Prefix{}, false }},
		lim: &mock.Limiter{AllowFn: func(ctx context.Context, client netip.Addr) error { return nil }},
		disposable: &mock.DomainChecker{IsDisposableFn: func(domain string) bool {
			return domain == "mailinator.com"
		}},
		mx: &mock.MXVerifier{VerifyMXFn: func(ctx context.Context, domain string) error {
			switch domain {
			case "nomail.example.com":
				return service.Errorf(service.CodeUndeliverable, "That domain cannot receive mail.")
			case "slowdns.example.com":
				return &service.Error{Code: service.CodeUnavailable, Message: "Try again.", RetryAfter: 3 * time.Second}
			}
			return nil
		}},
		ready: []api.Check{
			{Name: "postgres", Check: func(ctx context.Context) error { return errors.New("connection refused") }},
			{Name: "redis", Check: func(ctx context.Context) error { return errors.New("connection refused") }, Soft: true},
		},
		admin: adminParts(new(int), new([]string)),
	})
	reveal := newLiveServer(t, api.Config{RevealDuplicates: true}, parts{})
	degraded := newLiveServer(t, api.Config{}, parts{ready: []api.Check{
		{Name: "redis", Check: func(ctx context.Context) error { return errors.New("connection refused") }, Soft: true},
	}})
	refusing := newLiveServer(t, api.Config{}, parts{
		ips: &mock.IPChecker{LookupFn: func(ip netip.Addr) (string, netip.Prefix, bool) { return "test", blocked, blocked.Contains(ip) }},
	})
	limited := newLiveServer(t, api.Config{}, parts{
		lim: &mock.Limiter{AllowFn: func(ctx context.Context, client netip.Addr) error {
			return &service.Error{Code: service.CodeRateLimited, Message: "Too many signups.", RetryAfter: time.Minute}
		}},
	})
	closed, err := sql.Open(context.Background(), "postgres://127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	down := newLiveServer(t, api.Config{}, parts{store: closed})

	const js = "application/json"
	auth := []string{"Authorization", "Bearer " + token}
	browser := []string{"Accept", browserAccept}
	tests := []struct {
		name        string
		srv         *liveServer
		method      string
		path        string
		contentType string
		body        string
		header      []string
		wantStatus  int
	}{
		{"Accepted", s, "POST", "/subscribe", js, `{"email":"ann@example.com","list":"weekly","name":"Ann"}`, nil, 202},
		{"AcceptedForm", s, "POST", "/subscribe", formType, "email=bob%40example.com", nil, 202},
		{"AcceptedPage", s, "POST", "/subscribe", formType, "email=cat%40example.com", browser, 202},
		{"Redirect", s, "POST", "/subscribe", formType, "email=dan%40example.com&redirect=https%3A%2F%2Fwww.example.org%2Fthanks", browser, 303},
		{"Honeypot", s, "POST", "/subscribe", js, `{"email":"bot@example.com","website":"http://spam"}`, nil, 202},
		{"Subscribed", reveal, "POST", "/subscribe", js, `{"email":"eve@example.com"}`, nil, 201},
		{"AlreadySubscribed", reveal, "POST", "/subscribe", js, `{"email":"eve@example.com"}`, nil, 200},
		{"InvalidRequest", s, "POST", "/subscribe", js, `{"email":1}`, nil, 400},
		{"InvalidRequestPage", s, "POST", "/subscribe", formType, "name=x", browser, 400},
		{"BlockedIP", refusing, "POST", "/subscribe", js, `{"email":"fay@example.com"}`, nil, 403},
		{"TooLarge", s, "POST", "/subscribe", js, `{"email":"` + strings.Repeat("a", 17<<10) + `"}`, nil, 413},
		{"UnsupportedMedia", s, "POST", "/subscribe", "text/plain", "email=gil@example.com", nil, 415},
		{"InvalidEmail", s, "POST", "/subscribe", js, `{"email":"gil@localhost"}`, nil, 422},
		{"InvalidEmailPage", s, "POST", "/subscribe", formType, "email=gil%40localhost", browser, 422},
		{"Undeliverable", s, "POST", "/subscribe", js, `{"email":"gil@nomail.example.com"}`, nil, 422},
		{"Disposable", s, "POST", "/subscribe", js, `{"email":"gil@mailinator.com"}`, nil, 422},
		{"UnknownList", s, "POST", "/subscribe", js, `{"email":"gil@example.com","list":"nope"}`, nil, 422},
		{"RateLimited", limited, "POST", "/subscribe", js, `{"email":"hal@example.com"}`, nil, 429},
		{"DNSUnavailable", s, "POST", "/subscribe", js, `{"email":"hal@slowdns.example.com"}`, nil, 503},
		{"StoreUnavailable", down, "POST", "/subscribe", js, `{"email":"hal@example.com"}`, nil, 503},
		{"Preflight", s, "OPTIONS", "/subscribe", "", "", []string{"Origin", site, "Access-Control-Request-Method", "POST"}, 204},
		{"Script", s, "GET", "/signupguard.js", "", "", nil, 200},
		{"Healthz", s, "GET", "/healthz", "", "", nil, 200},
		{"Ready", reveal, "GET", "/readyz", "", "", nil, 200},
		{"NotReady", s, "GET", "/readyz", "", "", nil, 503},
		{"ReadyDegraded", degraded, "GET", "/readyz", "", "", nil, 200},
		{"Metrics", s, "GET", "/metrics", "", "", nil, 200},
		{"OpenAPI", s, "GET", "/openapi.yaml", "", "", nil, 200},
		{"AdminBlocklists", s, "GET", "/admin/blocklists", "", "", auth, 200},
		{"AdminReload", s, "POST", "/admin/blocklists/reload", "", "", auth, 200},
		{"AdminIP", s, "GET", "/admin/ip/5.6.7.8", "", "", auth, 200},
		{"AdminIPInvalid", s, "GET", "/admin/ip/5.6.7", "", "", auth, 400},
		{"AdminBans", s, "GET", "/admin/bans", "", "", auth, 200},
		{"AdminLift", s, "DELETE", "/admin/bans/192.0.2.1", "", "", auth, 204},
		{"AdminUnauthorized", s, "GET", "/admin/bans", "", "", nil, 401},
		{"AdminOff", reveal, "GET", "/admin/bans", "", "", auth, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.srv.do(t, tt.method, tt.path, tt.contentType, tt.body, tt.header...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			req, _ := http.NewRequest(tt.method, tt.srv.URL+tt.path, nil)
			if err := validate(t, router, req, resp, body); err != nil {
				t.Errorf("answer does not fit openapi.yaml: %v\nbody: %s", err, body)
			}
		})
	}

	// The validator is not vacuous: a changed shape fails it.
	t.Run("ErrShapeChanged", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.URL+"/subscribe", nil)
		for _, body := range []string{
			`{"status":"accepted","email":"a@example.com","id":7}`,
			`{"status":"created","email":"a@example.com"}`,
			`{"status":"accepted"}`,
		} {
			resp := &http.Response{StatusCode: 202, Header: http.Header{"Content-Type": {js}}}
			if validate(t, router, req, resp, body) == nil {
				t.Errorf("202 %s passed validation", body)
			}
		}
		resp := &http.Response{StatusCode: 422, Header: http.Header{"Content-Type": {js}}}
		if validate(t, router, req, resp, `{"error":{"code":"rate_limited","message":"x"}}`) == nil {
			t.Error("a 422 with code rate_limited passed validation")
		}
		resp = &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {js}}}
		if validate(t, router, req, resp, `{"error":{"code":"unavailable","message":"x"}}`) == nil {
			t.Error("an undocumented 500 passed validation")
		}
	})
}

// TestOpenAPIComplete fails when a route or an error code is missing from
// api/openapi.yaml.
func TestOpenAPIComplete(t *testing.T) {
	doc, _ := openAPI(t)
	s := newLiveServer(t, api.Config{AdminToken: token}, parts{admin: adminParts(new(int), new([]string))})
	engine := s.Config.Handler.(*gin.Engine)
	for _, r := range engine.Routes() {
		path := r.Path
		for _, p := range []string{":ip", "*key", ":name"} {
			path = strings.Replace(path, p, "{"+strings.Trim(p, ":*")+"}", 1)
		}
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but not in openapi.yaml", r.Method, r.Path)
		}
	}
	var codes []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		codes = append(codes, v.(string))
	}
	for _, c := range service.Codes() {
		if !slices.Contains(codes, string(c)) {
			t.Errorf("error code %s is not in openapi.yaml's ErrorCode", c)
		}
	}
}
