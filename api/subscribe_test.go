package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/signupguard/signupguard/api"
)

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

func TestSubscribe(t *testing.T) {
	s := newTestServer(t, api.Config{})
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string // error code; "" for a success
		email       string // answered address on success
		stored      bool   // a new row is expected
	}{
		{name: "NewJSON", contentType: jsonType, body: `{"email":"a@gmail.com"}`, status: 202, email: "a@gmail.com", stored: true},
		{name: "DuplicateJSON", contentType: jsonType, body: `{"email":"a@gmail.com"}`, status: 202, email: "a@gmail.com"},
		{name: "DuplicateGmailVariant", contentType: jsonType, body: `{"email":" A+x@GoogleMail.com "}`, status: 202, email: "A+x@googlemail.com"},
		{name: "OtherList", contentType: jsonType, body: `{"email":"a@gmail.com","list":"weekly"}`, status: 202, email: "a@gmail.com", stored: true},
		{name: "NewForm", contentType: formType, body: "email=jane%40b%C3%BCcher.de&name=Jane&submit=Go", status: 202, email: "jane@xn--bcher-kva.de", stored: true},
		{name: "FormCharsetUTF8", contentType: formType + "; charset=UTF-8", body: "email=x%40example.org", status: 202, email: "x@example.org", stored: true},
		{name: "UnknownFieldsIgnored", contentType: jsonType, body: `{"email":"b@example.org","utm":{"a":[1,2]},"consent":true}`, status: 202, email: "b@example.org", stored: true},
		{name: "NullName", contentType: jsonType, body: `{"email":"c@example.org","name":null}`, status: 202, email: "c@example.org", stored: true},
		{name: "HoneypotJSON", contentType: jsonType, body: `{"email":"bot@example.org","website":"http://spam"}`, status: 202, email: "bot@example.org"},
		{name: "HoneypotForm", contentType: formType, body: "email=bot2%40example.org&website=x", status: 202, email: "bot2@example.org"},

		{name: "ErrMissingEmail", contentType: jsonType, body: `{"name":"x"}`, status: 400, code: "invalid_request"},
		{name: "ErrEmptyEmail", contentType: jsonType, body: `{"email":""}`, status: 400, code: "invalid_request"},
		{name: "ErrNotObject", contentType: jsonType, body: `["a@gmail.com"]`, status: 400, code: "invalid_request"},
		{name: "ErrTrailingData", contentType: jsonType, body: `{"email":"d@example.org"} {"email":"e@example.org"}`, status: 400, code: "invalid_request"},
		{name: "ErrTrailingGarbage", contentType: jsonType, body: `{"email":"d@example.org"}x`, status: 400, code: "invalid_request"},
		{name: "ErrTruncatedJSON", contentType: jsonType, body: `{"email":"d@example.org"`, status: 400, code: "invalid_request"},
		{name: "ErrInvalidUTF8", contentType: jsonType, body: "{\"email\":\"d\xff@example.org\"}", status: 400, code: "invalid_request"},
		{name: "ErrInvalidUTF8Form", contentType: formType, body: "email=d%FF%40example.org", status: 400, code: "invalid_request"},
		{name: "ErrDuplicateKey", contentType: jsonType, body: `{"email":"d@example.org","email":"e@example.org"}`, status: 400, code: "invalid_request"},
		{name: "ErrDuplicateFormKey", contentType: formType, body: "email=d%40example.org&email=e%40example.org", status: 400, code: "invalid_request"},
		{name: "ErrNonString", contentType: jsonType, body: `{"email":["d@example.org"]}`, status: 400, code: "invalid_request"},
		{name: "ErrBadFormEscape", contentType: formType, body: "email=%zz", status: 400, code: "invalid_request"},
		{name: "ErrNameTooLong", contentType: jsonType, body: `{"email":"d@example.org","name":"` + strings.Repeat("é", 201) + `"}`, status: 400, code: "invalid_request"},
		{name: "ErrNameControl", contentType: jsonType, body: `{"email":"d@example.org","name":"a\r\nb"}`, status: 400, code: "invalid_request"},
		{name: "ErrTooLarge", contentType: jsonType, body: `{"email":"d@example.org","x":"` + strings.Repeat("a", 16<<10) + `"}`, status: 413, code: "payload_too_large"},
		{name: "ErrNoContentType", body: `{"email":"d@example.org"}`, status: 415, code: "unsupported_media_type"},
		{name: "ErrTextPlain", contentType: "text/plain", body: `{"email":"d@example.org"}`, status: 415, code: "unsupported_media_type"},
		{name: "ErrMultipart", contentType: "multipart/form-data; boundary=x", body: "--x--", status: 415, code: "unsupported_media_type"},
		{name: "ErrLatin1", contentType: jsonType + "; charset=latin1", body: `{"email":"d@example.org"}`, status: 415, code: "unsupported_media_type"},
		{name: "ErrInvalidEmail", contentType: jsonType, body: `{"email":"not an address"}`, status: 422, code: "invalid_email"},
		{name: "ErrSpecialUse", contentType: jsonType, body: `{"email":"root@localhost"}`, status: 422, code: "invalid_email"},
		{name: "ErrHeaderInjection", contentType: jsonType, body: `{"email":"d@example.org\r\nBcc: x@example.org"}`, status: 422, code: "invalid_email"},
		{name: "ErrUnknownList", contentType: jsonType, body: `{"email":"d@example.org","list":"secret"}`, status: 422, code: "unknown_list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.rows(t)
			w := s.do("POST", "/subscribe", tt.contentType, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if got := errorCode(t, w.Body.Bytes()); got != tt.code {
				t.Fatalf("error code %q, want %q", got, tt.code)
			}
			if tt.code == "" {
				want := `{"status":"accepted","email":` + quote(tt.email) + `}`
				if w.Body.String() != want {
					t.Fatalf("body %s, want %s", w.Body, want)
				}
			}
			added := s.rows(t) - before
			if tt.stored && added != 1 || !tt.stored && added != 0 {
				t.Fatalf("%d rows added, want stored=%v", added, tt.stored)
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestSubscribeRevealDuplicates(t *testing.T) {
	s := newTestServer(t, api.Config{RevealDuplicates: true})
	steps := []struct {
		body   string
		status int
		want   string
	}{
		{`{"email":"Jane@Example.org"}`, 201, `{"status":"subscribed","email":"Jane@example.org"}`},
		{`{"email":"jane@example.ORG"}`, 200, `{"status":"already_subscribed","email":"jane@example.org"}`},
		{`{"email":"bot@example.org","website":"x"}`, 201, `{"status":"subscribed","email":"bot@example.org"}`},
	}
	for _, st := range steps {
		w := s.do("POST", "/subscribe", jsonType, st.body)
		if w.Code != st.status || w.Body.String() != st.want {
			t.Fatalf("%s: got %d %s, want %d %s", st.body, w.Code, w.Body, st.status, st.want)
		}
	}
	if n := s.rows(t); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// TestSubscribeConcurrent sends 64 identical submissions and variants of
// the same mailbox at once: one row, one 201, no error.
func TestSubscribeConcurrent(t *testing.T) {
	for _, reveal := range []bool{false, true} {
		s := newTestServer(t, api.Config{RevealDuplicates: reveal})
		variants := []string{"jane.doe@gmail.com", "JaneDoe@gmail.com", "jane.doe+x@googlemail.com", "J.A.N.E.D.O.E@GMAIL.COM"}
		const n = 64
		type answer struct {
			status int
			body   string
		}
		answers := make([]answer, n+len(variants))
		var wg sync.WaitGroup
		for i := range answers {
			email := "jane.doe@gmail.com"
			if i >= n {
				email = variants[i-n]
			}
			wg.Go(func() {
				w := s.do("POST", "/subscribe", jsonType, `{"email":"`+email+`"}`)
				answers[i] = answer{w.Code, w.Body.String()}
			})
		}
		wg.Wait()
		created := 0
		for i, a := range answers {
			switch {
			case a.status == http.StatusCreated:
				created++
			case reveal && a.status == http.StatusOK, !reveal && a.status == http.StatusAccepted:
			default:
				t.Fatalf("reveal=%v: answer %d: %d %s", reveal, i, a.status, a.body)
			}
			if i < n && !reveal && a != answers[0] {
				t.Fatalf("identical submissions answered differently: %v and %v", a, answers[0])
			}
		}
		if reveal && created != 1 {
			t.Fatalf("%d answers said created, want 1", created)
		}
		if rows := s.rows(t); rows != 1 {
			t.Fatalf("reveal=%v: %d rows, want 1", reveal, rows)
		}
	}
}

// TestSubscribeDatabaseDown: with Postgres gone, a signup is answered 503
// with Retry-After, and /readyz says why; /healthz still answers.
func TestSubscribeDatabaseDown(t *testing.T) {
	s := newTestServer(t, api.Config{})
	s.db.Close()
	w := s.do("POST", "/subscribe", jsonType, `{"email":"a@gmail.com"}`)
	if w.Code != http.StatusServiceUnavailable || errorCode(t, w.Body.Bytes()) != "unavailable" {
		t.Fatalf("got %d %s, want 503 unavailable", w.Code, w.Body)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if w := s.do("GET", "/readyz", "", ""); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "postgres") {
		t.Fatalf("/readyz: %d %s, want 503 naming postgres", w.Code, w.Body)
	}
	if w := s.do("GET", "/healthz", "", ""); w.Code != http.StatusOK {
		t.Fatalf("/healthz: %d", w.Code)
	}
}

func TestReadyz(t *testing.T) {
	s := newTestServer(t, api.Config{})
	if w := s.do("GET", "/readyz", "", ""); w.Code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", w.Code, w.Body)
	}
}

func TestMethodAndRoute(t *testing.T) {
	s := newTestServer(t, api.Config{})
	if w := s.do("GET", "/subscribe", "", ""); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /subscribe: %d", w.Code)
	}
	if w := s.do("GET", "/nope", "", ""); w.Code != http.StatusNotFound {
		t.Fatalf("GET /nope: %d", w.Code)
	}
}

// FuzzSubscribe: any body with any content type is answered with one of the
// statuses SPEC lists, never a 500, and a refused request stores nothing.
func FuzzSubscribe(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{jsonType, `{"email":"a@gmail.com"}`},
		{jsonType, `{"email":"a@gmail.com","email":"b@gmail.com"}`},
		{jsonType, `{"email":"x@bücher.de","name":"Jane","website":""}`},
		{jsonType, `{"email":1}`},
		{jsonType, `{"email":"a@gmail.com"}]`},
		{formType, "email=a%40gmail.com&list=default"},
		{formType, "email=%ff"},
		{"text/plain", "email=a@gmail.com"},
		{"application/json; charset=utf-16", `{}`},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body)
	}
	s := newTestServer(f, api.Config{})
	allowed := map[int]bool{200: true, 201: true, 202: true, 400: true, 413: true, 415: true, 422: true}
	f.Fuzz(func(t *testing.T, ct, body string) {
		before := s.rows(t)
		w := s.do("POST", "/subscribe", ct, body)
		if !allowed[w.Code] {
			t.Fatalf("Content-Type %q body %q: status %d %s", ct, body, w.Code, w.Body)
		}
		if w.Code >= 400 && s.rows(t) != before {
			t.Fatalf("refused with %d but a row was stored", w.Code)
		}
	})
}
