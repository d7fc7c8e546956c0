package sql_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signupguard/signupguard/blocklist"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/sql/sqltest"
)

// BenchmarkReload compares what an instance does on a reload, reading the
// stored copies of the largest real lists (LoadStored), with parsing the
// same files (ParseFiles, the baseline): both build the Set.
func BenchmarkReload(b *testing.B) {
	ctx := context.Background()
	db := sqltest.Open(b)
	files := []string{"bitwire_inbound_networks.txt", "firehol_stopforumspam_180d.ipset", "ipsum.txt"}
	var bodies [][]byte
	for _, name := range files {
		body, err := os.ReadFile(filepath.Join(testenv.DataDir(b), "ipblocklists", name))
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
		res, err := blocklist.Parse(bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		s := blocklist.Snapshot{Name: name, Location: name, FetchedAt: time.Now(), Prefixes: res.Prefixes}
		if err := db.SaveSnapshot(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("ParseFiles", func(b *testing.B) {
		for b.Loop() {
			var sources []blocklist.Source
			for i, body := range bodies {
				res, err := blocklist.Parse(bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				sources = append(sources, blocklist.Source{Name: files[i], Prefixes: res.Prefixes})
			}
			blocklist.New(sources, blocklist.Options{})
		}
	})
	b.Run("LoadStored", func(b *testing.B) {
		for b.Loop() {
			_, snaps, err := db.Snapshots(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var sources []blocklist.Source
			for _, s := range snaps {
				sources = append(sources, blocklist.Source{Name: s.Name, Prefixes: s.Prefixes})
			}
			blocklist.New(sources, blocklist.Options{})
		}
	})
}
