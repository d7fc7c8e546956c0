package sql_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/sql"
)

func TestRegisterMetrics(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	if err := db.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP signupguard_sql_pool_acquired_conns Connections currently lent out.
# TYPE signupguard_sql_pool_acquired_conns gauge
signupguard_sql_pool_acquired_conns 1
# HELP signupguard_sql_pool_acquires_total Successful acquires of a connection.
# TYPE signupguard_sql_pool_acquires_total counter
signupguard_sql_pool_acquires_total 1
# HELP signupguard_sql_pool_total_conns Connections in the pool: acquired, idle and being opened.
# TYPE signupguard_sql_pool_total_conns gauge
signupguard_sql_pool_total_conns 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"signupguard_sql_pool_acquired_conns", "signupguard_sql_pool_acquires_total", "signupguard_sql_pool_total_conns"); err != nil {
		t.Error(err)
	}
	conn.Release()
	want = `
# HELP signupguard_sql_pool_acquired_conns Connections currently lent out.
# TYPE signupguard_sql_pool_acquired_conns gauge
signupguard_sql_pool_acquired_conns 0
# HELP signupguard_sql_pool_idle_conns Idle connections in the pool.
# TYPE signupguard_sql_pool_idle_conns gauge
signupguard_sql_pool_idle_conns 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"signupguard_sql_pool_acquired_conns", "signupguard_sql_pool_idle_conns"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 12 {
		t.Errorf("pool collector exposes %d series (%v), want 12", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
