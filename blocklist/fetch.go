package blocklist

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// Errors of Fetch. A refused download never replaces the stored copy.
var (
	ErrTooLarge  = errors.New("blocklist: download exceeds the size cap")
	ErrTruncated = errors.New("blocklist: download truncated")
)

// StatusError is an HTTP answer other than 200 or 304.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "blocklist: server answered " + e.Status }

// FetchConfig bounds a Fetcher. Zero fields take the defaults shown.
type FetchConfig struct {
	ConnectTimeout time.Duration // 10s: TCP connect and TLS handshake
	Timeout        time.Duration // 60s: the whole download, body included
	MaxBytes       int64         // 64 MiB: of the body after gzip decoding
	MaxRedirects   int           // 5
	UserAgent      string        // "signupguard (+https://github.com/signupguard/signupguard)"
	TLS            *tls.Config   // nil: the system's roots (set for a mirror with a private CA)
}

// DefaultUserAgent names the project, so list publishers know who asks.
const DefaultUserAgent = "signupguard (+https://github.com/signupguard/signupguard)"

func (c FetchConfig) withDefaults() FetchConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 5
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	return c
}

// Validators are what a server gave with the last good copy; sent back,
// they let it answer 304 Not Modified.
type Validators struct {
	ETag         string
	LastModified string
}

// Download is one fetched source.
type Download struct {
	Body        []byte // decoded (gunzipped); nil when NotModified
	NotModified bool   // the server answered 304 to the validators sent
	Validators         // the server's, for the next fetch
	ContentType string
}

// Fetcher downloads blocklist sources: http(s) URLs or local files. It never
// retries: a failed source waits for the next run, so a struggling publisher
// is not hammered.
type Fetcher struct {
	cfg    FetchConfig
	client *http.Client
}

// NewFetcher returns a Fetcher with its own transport.
func NewFetcher(cfg FetchConfig) *Fetcher {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		TLSClientConfig:       cfg.TLS,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("more than %d redirects", cfg.MaxRedirects)
			}
			// A list once fetched over https must not be swapped for one
			// anybody on the path can forge, at any hop.
			if req.URL.Scheme != "https" && slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" }) {
				return fmt.Errorf("redirect from https to %s refused", req.URL.Scheme)
			}
			return nil
		},
	}
	return &Fetcher{cfg: cfg, client: client}
}

// IsURL reports whether location names an http(s) source rather than a file.
func IsURL(location string) bool {
	l := strings.ToLower(location)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Fetch downloads location, an http(s) URL or a file path. For URLs, prev is
// sent as If-None-Match / If-Modified-Since. Bodies larger than the cap are
// refused with ErrTooLarge, short ones with ErrTruncated; gzip is decoded,
// whether as Content-Encoding or as a .gz body.
func (f *Fetcher) Fetch(ctx context.Context, location string, prev Validators) (Download, error) {
	if !IsURL(location) {
		return f.fetchFile(location)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return Download{}, fmt.Errorf("fetch %s: %w", location, err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return Download{}, fmt.Errorf("fetch %s: %w", location, err)
	}
	defer resp.Body.Close()
	d := Download{
		Validators:  Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")},
		ContentType: resp.Header.Get("Content-Type"),
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		d.NotModified = true
		return d, nil
	default:
		return Download{}, fmt.Errorf("fetch %s: %w", location, &StatusError{Code: resp.StatusCode, Status: resp.Status})
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return Download{}, fmt.Errorf("fetch %s: %d bytes announced: %w", location, resp.ContentLength, ErrTooLarge)
	}
	body, err := readCapped(resp.Body, f.cfg.MaxBytes)
	if err != nil {
		return Download{}, fmt.Errorf("fetch %s: %w", location, err)
	}
	if d.Body, err = gunzip(body, f.cfg.MaxBytes); err != nil {
		return Download{}, fmt.Errorf("fetch %s: %w", location, err)
	}
	return d, nil
}

func (f *Fetcher) fetchFile(path string) (Download, error) {
	body, err := ReadFile(strings.TrimPrefix(path, "file://"), f.cfg.MaxBytes)
	if err != nil {
		return Download{}, fmt.Errorf("fetch: %w", err)
	}
	return Download{Body: body}, nil
}

// ReadFile reads a blocklist file as Fetch reads a download: a regular file
// of at most maxBytes, decoded when it is gzip, with the same cap on the
// decoded bytes.
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxBytes {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, st.Size(), ErrTooLarge)
	}
	body, err := readCapped(file, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if body, err = gunzip(body, maxBytes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return body, nil
}

// readCapped reads r to its end, refusing more than max bytes. An early end
// of a body whose length was announced (or of a chunked or gzip stream) is
// ErrTruncated.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("after %d bytes: %w", len(body), ErrTruncated)
	case err != nil:
		return nil, fmt.Errorf("read body: %w", err)
	case int64(len(body)) > max:
		return nil, fmt.Errorf("more than %d bytes: %w", max, ErrTooLarge)
	}
	return body, nil
}

// gunzip decodes body when it is a gzip stream (a .gz file served as is),
// with the same size cap on the decoded bytes, so a small bomb cannot
// inflate past it.
func gunzip(body []byte, max int64) ([]byte, error) {
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := readCapped(zr, max)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}
