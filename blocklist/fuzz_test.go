package blocklist_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signupguard/signupguard/blocklist"
)

// FuzzFetchFile feeds arbitrary bytes (plain or gzip) through a file source:
// Fetch must never panic nor return more than the cap, and must return
// plain input unchanged.
func FuzzFetchFile(f *testing.F) {
	f.Add([]byte("192.0.2.1\n"))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x2b, 0x49, 0x2d, 0x2e, 0x01, 0, 0, 0, 0xff, 0xff})
	const max = 4096
	fetch := blocklist.NewFetcher(blocklist.FetchConfig{MaxBytes: max})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "list")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := fetch.Fetch(context.Background(), path, blocklist.Validators{})
		isGzip := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
		switch {
		case err != nil:
			if !isGzip && !errors.Is(err, blocklist.ErrTooLarge) {
				t.Fatalf("plain input refused: %v", err)
			}
		case len(d.Body) > max:
			t.Fatalf("%d bytes returned, cap %d", len(d.Body), max)
		case !isGzip && !bytes.Equal(d.Body, data):
			t.Fatal("plain input changed")
		}
	})
}
