package blocklist_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/blocklist"
)

func TestMetrics(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m := blocklist.NewMetrics(reg, func() time.Time { return now })
	m.Observe([]blocklist.Snapshot{
		{Name: "fresh", Entries: 956, FetchedAt: now.Add(-3 * time.Hour), CheckedAt: now.Add(-90 * time.Second)},
		{Name: "failing", Entries: 20, FetchedAt: now.Add(-2 * time.Hour), CheckedAt: now.Add(-2 * time.Hour), LastError: "server answered 503"},
		{Name: "never", LastError: "no such file"},
	})
	want := `
# HELP signupguard_blocklist_age_seconds Time since the copy of a source in force was last confirmed current (stored, 304 or same content).
# TYPE signupguard_blocklist_age_seconds gauge
signupguard_blocklist_age_seconds{source="failing"} 7200
signupguard_blocklist_age_seconds{source="fresh"} 90
# HELP signupguard_blocklist_entries Prefixes in the copy of a source in force.
# TYPE signupguard_blocklist_entries gauge
signupguard_blocklist_entries{source="failing"} 20
signupguard_blocklist_entries{source="fresh"} 956
# HELP signupguard_blocklist_last_refresh_success 1 when the last refresh of a source succeeded, 0 when it failed (its last good copy stays in force).
# TYPE signupguard_blocklist_last_refresh_success gauge
signupguard_blocklist_last_refresh_success{source="failing"} 0
signupguard_blocklist_last_refresh_success{source="fresh"} 1
signupguard_blocklist_last_refresh_success{source="never"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"signupguard_blocklist_age_seconds", "signupguard_blocklist_entries", "signupguard_blocklist_last_refresh_success"); err != nil {
		t.Fatal(err)
	}
}
