package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile writes to path a CPU profile of the service at addr, taken from
// its admin route while load runs for d.
func profile(addr, token, path string, d time.Duration, load func()) error {
	secs := max(1, min(10, int(d/time.Second))) // the route's bounds
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/admin/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		client := &http.Client{Timeout: time.Duration(secs)*time.Second + 10*time.Second}
		resp, err := client.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		got <- result{b, err}
	}()
	load()
	r := <-got
	if r.err != nil {
		return r.err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, r.b, 0o644)
}
