package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// DataDir returns ../shared/data beside the module root: the real public
// blocklists and the disposable-domain list that tests read (never write).
func DataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			data := filepath.Join(dir, "..", "shared", "data")
			if _, err := os.Stat(data); err != nil {
				t.Fatalf("test data: %v (expected ../shared/data beside the checkout)", err)
			}
			return data
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("test data: no go.mod above the working directory")
		}
		dir = parent
	}
}
