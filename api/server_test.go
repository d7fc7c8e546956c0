package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/sql"
)

// testServer is the real handler over a real Postgres store.
type testServer struct {
	db *sql.DB
	h  http.Handler
}

// newTestServer returns a server with the backbone's pipeline (no IP,
// limit, disposable or MX step) on a fresh database, answering through a
// recorder.
func newTestServer(t testing.TB, cfg api.Config) *testServer {
	t.Helper()
	return newRecorded(t, cfg, parts{})
}

// newRecorded serves newStack through a recorder.
func newRecorded(t testing.TB, cfg api.Config, p parts) *testServer {
	t.Helper()
	st := newStack(t, cfg, p)
	return &testServer{db: st.db, h: st.h}
}

// do sends one request and returns the recorded answer.
func (s *testServer) do(method, path, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:4321"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// rows returns how many subscribers are stored.
func (s *testServer) rows(t testing.TB) int {
	t.Helper()
	var n int
	if err := s.db.Pool.QueryRow(context.Background(), "select count(*) from subscribers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// errorCode returns the code of an error answer, or "".
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("answer is not JSON: %q", body)
	}
	if e.Error.Code != "" && e.Error.Message == "" {
		t.Fatalf("error %q without a message", e.Error.Code)
	}
	return e.Error.Code
}
