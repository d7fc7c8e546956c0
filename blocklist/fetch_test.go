package blocklist_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/internal/testenv"
)

// readList returns a real list file from ../shared/data/ipblocklists.
func readList(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.DataDir(t), "ipblocklists", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// listServer serves body as a file with an ETag and Last-Modified;
// http.ServeContent answers conditional requests with 304. It records each
// request's headers on reqs.
func listServer(t testing.TB, body []byte, etag string, reqs chan<- http.Header) *httptest.Server {
	t.Helper()
	mod := time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqs != nil {
			reqs <- r.Header.Clone()
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		http.ServeContent(w, r, "list.txt", mod, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchConditional(t *testing.T) {
	body := readList(t, "spamhaus_drop_legacy_2023-10-24.txt")
	reqs := make(chan http.Header, 3)
	srv := listServer(t, body, `"v1"`, reqs)
	f := blocklist.NewFetcher(blocklist.FetchConfig{})
	ctx := context.Background()

	d, err := f.Fetch(ctx, srv.URL+"/drop.txt", blocklist.Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Body, body) || d.NotModified {
		t.Fatalf("first fetch: got %d bytes (not modified %v), want the %d bytes of the file", len(d.Body), d.NotModified, len(body))
	}
	if d.ETag != `"v1"` || d.LastModified != "Sat, 22 Aug 2026 10:00:00 GMT" {
		t.Errorf("validators = %+v", d.Validators)
	}
	h := <-reqs
	if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "signupguard") {
		t.Errorf("User-Agent = %q, want one naming signupguard", ua)
	}
	if h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
		t.Errorf("first request was conditional: %v", h)
	}

	d, err = f.Fetch(ctx, srv.URL+"/drop.txt", d.Validators)
	if err != nil {
		t.Fatal(err)
	}
	if !d.NotModified || d.Body != nil {
		t.Fatalf("second fetch: not modified %v, %d bytes; want a 304 and no body", d.NotModified, len(d.Body))
	}
	h = <-reqs
	if h.Get("If-None-Match") != `"v1"` || h.Get("If-Modified-Since") != "Sat, 22 Aug 2026 10:00:00 GMT" {
		t.Errorf("second request's validators: %v", h)
	}

	// Only the Last-Modified validator, and a stale one: the server sends the list.
	d, err = f.Fetch(ctx, srv.URL+"/drop.txt", blocklist.Validators{LastModified: "Mon, 01 Jan 2024 00:00:00 GMT"})
	if err != nil || d.NotModified || !bytes.Equal(d.Body, body) {
		t.Fatalf("stale validator: not modified %v, %d bytes, err %v; want the full list", d.NotModified, len(d.Body), err)
	}
}

func TestFetchGzip(t *testing.T) {
	body := readList(t, "firehol_level1.netset")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()

	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"ContentEncoding", func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				t.Errorf("Accept-Encoding = %q, want gzip", r.Header.Get("Accept-Encoding"))
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		}},
		{"GzipFile", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			w.Write(gz.Bytes())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			d, err := blocklist.NewFetcher(blocklist.FetchConfig{}).Fetch(context.Background(), srv.URL, blocklist.Validators{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Body, body) {
				t.Fatalf("got %d bytes, want the %d bytes of the decoded file", len(d.Body), len(body))
			}
		})
	}
}

func TestFetchRefused(t *testing.T) {
	body := readList(t, "spamhaus_drop_legacy_2023-10-24.txt")
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	var gz bytes.Buffer
	zw = gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()

	tests := []struct {
		name    string
		cfg     blocklist.FetchConfig
		handler http.HandlerFunc
		want    error // matched with errors.Is, or nil to check wantText
		status  int   // a *StatusError with this code
		text    string
	}{
		{name: "OversizeAnnounced", cfg: blocklist.FetchConfig{MaxBytes: 1000}, want: blocklist.ErrTooLarge,
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Announced: a body past net/http's buffer would go chunked.
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
			}},
		{name: "OversizeChunked", cfg: blocklist.FetchConfig{MaxBytes: 1000}, want: blocklist.ErrTooLarge,
			handler: func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 10; i++ {
					w.Write(body[:500])
					w.(http.Flusher).Flush()
				}
			}},
		{name: "GzipBomb", cfg: blocklist.FetchConfig{MaxBytes: 1 << 20}, want: blocklist.ErrTooLarge,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(bomb.Bytes())
			}},
		{name: "GzipFileBomb", cfg: blocklist.FetchConfig{MaxBytes: 1 << 20}, want: blocklist.ErrTooLarge,
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write(bomb.Bytes()) }},
		{name: "TruncatedContentLength", want: blocklist.ErrTruncated,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.Write(body[:len(body)/2])
			}},
		{name: "TruncatedChunked", want: blocklist.ErrTruncated,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write(body[:len(body)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // drops the connection mid-body
			}},
		{name: "TruncatedGzip", want: blocklist.ErrTruncated,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gz.Bytes()[:gz.Len()/2])
			}},
		{name: "ServerError", status: 500,
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }},
		{name: "NotFound", status: 404,
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{name: "Hanging", cfg: blocklist.FetchConfig{Timeout: 300 * time.Millisecond}, want: context.DeadlineExceeded,
			handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{name: "SlowBody", cfg: blocklist.FetchConfig{Timeout: 300 * time.Millisecond}, want: context.DeadlineExceeded,
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Dribbles a line now and then: each read makes progress, only
				// the total timeout ends it.
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-r.Context().Done():
						return
					case <-tick.C:
						fmt.Fprintf(w, "192.0.2.%d\n", i%256)
						w.(http.Flusher).Flush()
					}
				}
			}},
		{name: "TooManyRedirects", text: "redirects",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path+"x", http.StatusFound) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			d, err := blocklist.NewFetcher(tt.cfg).Fetch(context.Background(), srv.URL+"/list", blocklist.Validators{})
			if err == nil {
				t.Fatalf("got %d bytes and no error", len(d.Body))
			}
			var se *blocklist.StatusError
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			case tt.status != 0 && (!errors.As(err, &se) || se.Code != tt.status):
				t.Fatalf("err = %v, want status %d", err, tt.status)
			case tt.text != "" && !strings.Contains(err.Error(), tt.text):
				t.Fatalf("err = %v, want it to mention %q", err, tt.text)
			}
		})
	}
}

func TestFetchRedirect(t *testing.T) {
	body := readList(t, "firehol_dshield.netset")
	srv := listServer(t, body, `"d"`, nil)
	hop := httptest.NewServer(http.RedirectHandler(srv.URL+"/list", http.StatusMovedPermanently))
	defer hop.Close()
	d, err := blocklist.NewFetcher(blocklist.FetchConfig{}).Fetch(context.Background(), hop.URL, blocklist.Validators{})
	if err != nil || !bytes.Equal(d.Body, body) {
		t.Fatalf("one redirect: %d bytes, err %v; want the list", len(d.Body), err)
	}
}

func TestFetchRedirectDowngrade(t *testing.T) {
	plain := listServer(t, readList(t, "firehol_dshield.netset"), `"d"`, nil)
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/list", http.StatusFound))
	defer tlsSrv.Close()
	f := blocklist.NewFetcher(blocklist.FetchConfig{TLS: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig})
	_, err := f.Fetch(context.Background(), tlsSrv.URL, blocklist.Validators{})
	if err == nil || !strings.Contains(err.Error(), "https to http refused") {
		t.Fatalf("https redirected to http: err = %v, want a refusal", err)
	}
	// Starting over http does not license the step down after https.
	start := httptest.NewServer(http.RedirectHandler(tlsSrv.URL, http.StatusFound))
	defer start.Close()
	_, err = f.Fetch(context.Background(), start.URL, blocklist.Validators{})
	if err == nil || !strings.Contains(err.Error(), "https to http refused") {
		t.Fatalf("http to https to http: err = %v, want a refusal", err)
	}
}

func TestFetchFile(t *testing.T) {
	path := filepath.Join(testenv.DataDir(t), "ipblocklists", "firehol_dshield.netset")
	body := readList(t, "firehol_dshield.netset")
	f := blocklist.NewFetcher(blocklist.FetchConfig{})
	for _, loc := range []string{path, "file://" + path} {
		d, err := f.Fetch(context.Background(), loc, blocklist.Validators{})
		if err != nil || !bytes.Equal(d.Body, body) {
			t.Errorf("Fetch(%s): %d bytes, err %v; want the file", loc, len(d.Body), err)
		}
	}
	if _, err := f.Fetch(context.Background(), filepath.Join(t.TempDir(), "missing"), blocklist.Validators{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
	if _, err := f.Fetch(context.Background(), t.TempDir(), blocklist.Validators{}); err == nil {
		t.Error("a directory was fetched without error")
	}
	small := blocklist.NewFetcher(blocklist.FetchConfig{MaxBytes: 100})
	if _, err := small.Fetch(context.Background(), path, blocklist.Validators{}); !errors.Is(err, blocklist.ErrTooLarge) {
		t.Errorf("file over the cap: err = %v, want ErrTooLarge", err)
	}
}
