// Command bench measures signupguard against two baselines in one run: a
// bare gin handler (what HTTP alone costs here) and pgbench inserting one
// row per transaction into the same table (what Postgres alone allows). It
// starts the service binary, the baseline and a DNS server itself; the
// caller provides an empty Postgres (scripts/bench starts one).
//
// Every case runs once per round, rounds interleave the cases, and each
// ratio is taken within a round, so a noisy neighbour slows both sides of a
// ratio alike. The table shows medians with the range over rounds.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline" {
		if err := serveBaseline(); err != nil {
			fmt.Fprintln(os.Stderr, "bench baseline:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "bin/signupguard", "the signupguard binary")
	flag.StringVar(&o.db, "db", os.Getenv("DATABASE_URL"), "URL of an empty Postgres database")
	flag.StringVar(&o.pgbench, "pgbench", "pgbench", "the pgbench binary")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds; each figure is the median over them")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "length of one case in one round")
	flag.IntVar(&o.conc, "c", 32, "requests in flight in throughput runs (and pgbench clients)")
	flag.IntVar(&o.rate, "rate", 500, "requests per second in latency runs")
	flag.StringVar(&o.logLevel, "log-level", "info", "SIGNUPGUARD_LOG_LEVEL of the service")
	flag.IntVar(&o.pgPid, "pg-pid", 0, "pid of the cluster's postmaster, to count Postgres's CPU (0: not counted)")
	flag.StringVar(&o.batch, "batch-window", "", "SIGNUPGUARD_BATCH_WINDOW of the service (empty: its default)")
	flag.StringVar(&o.profile, "profile", "", "after the rounds, write CPU profiles of the service under load (blocked and new cases) into this directory")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, db, pgbench   string
	rounds, conc, rate int
	pgPid              int
	duration           time.Duration
	logLevel, batch    string
	profile            string
}

// Source addresses: the blocklist covers 127.0.0.128/25, every other case
// comes from 127.0.0.1.
var (
	blockedFrom = net.IPv4(127, 0, 0, 200)
	allowedFrom = net.IPv4(127, 0, 0, 1)
)

// A case's figures over all rounds.
type series struct {
	rps, p50, p99 []float64
	// CPU seconds per answered request of the server, the load generator
	// (vegeta or pgbench) and Postgres
	server, client, pg []float64
	busy               []float64 // share of the machine's CPUs busy during the run
	sent, bad          int
	example            string
}

func (s *series) add(m measure, latency bool) {
	if latency {
		s.p50 = append(s.p50, float64(m.p50))
		s.p99 = append(s.p99, float64(m.p99))
	} else {
		s.rps = append(s.rps, m.rps)
	}
	s.sent += m.sent
	s.bad += m.bad
	if s.example == "" {
		s.example = m.example
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.db == "" {
		return fmt.Errorf("no database: pass -db or set DATABASE_URL")
	}
	dir, err := os.MkdirTemp("", "signupguard-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	dns, err := startDNS()
	if err != nil {
		return err
	}
	defer dns.Close()
	list := filepath.Join(dir, "bench.txt")
	if err := os.WriteFile(list, []byte("# the bench's blocked sources\n127.0.0.128/25\n"), 0o644); err != nil {
		return err
	}
	env := []string{
		"DATABASE_URL=" + o.db,
		"SIGNUPGUARD_BLOCKLISTS=bench=" + list,
		"SIGNUPGUARD_DNS_SERVERS=" + dns.Addr(),
		// Limits and bans are measured elsewhere; here they would only cut
		// throughput (and the invalid addresses would earn bans).
		"SIGNUPGUARD_RATE_LIMIT=off",
		"SIGNUPGUARD_NETWORK_RATE_LIMIT=off",
		"SIGNUPGUARD_GLOBAL_RATE_LIMIT=off",
		"SIGNUPGUARD_BAN_STRIKES=0",
		"REDIS_URL=",
		"SIGNUPGUARD_LOG_LEVEL=" + o.logLevel,
	}
	if o.batch != "" {
		env = append(env, "SIGNUPGUARD_BATCH_WINDOW="+o.batch)
	}
	token := rand.Text()
	if o.profile != "" {
		// Profiles come from the admin routes; they cost nothing unless asked for.
		env = append(env, "SIGNUPGUARD_ADMIN_TOKEN="+token)
	}
	svc, err := startService(ctx, o.bin, env)
	if err != nil {
		return err
	}
	defer svc.stop()
	base, err := startBaseline()
	if err != nil {
		return err
	}
	defer base.stop()

	var n atomic.Int64
	runID := time.Now().Unix()
	body := func(email string) func() []byte {
		b := []byte(`{"email":"` + email + `"}`)
		return func() []byte { return b }
	}
	subscribe := "http://" + svc.addr + "/subscribe"
	loads := map[string]load{
		"bare":    {url: "http://" + base.addr + "/subscribe", from: allowedFrom, body: body("bench@" + mailDomain), want: 202},
		"blocked": {url: subscribe, from: blockedFrom, body: body("bench@" + mailDomain), want: 403},
		"new": {url: subscribe, from: allowedFrom, want: 202, body: func() []byte {
			return fmt.Appendf(nil, `{"email":"n%d-%d@%s"}`, runID, n.Add(1), mailDomain)
		}},
		"duplicate": {url: subscribe, from: allowedFrom, want: 202, body: func() []byte {
			return fmt.Appendf(nil, `{"email":"dup%d@%s"}`, n.Add(1)%64, mailDomain)
		}},
		"invalid": {url: subscribe, from: allowedFrom, body: body("not-an-address"), want: 422},
	}
	// Store the duplicates' addresses and check each case answers as it
	// should before timing anything: a misconfigured service is not fast.
	if m := attack(loads["duplicate"], 8, 0, time.Second); m.sent == 0 || m.bad > 0 {
		return fmt.Errorf("storing the duplicates' addresses: %d of %d bad, e.g. %s", m.bad, m.sent, m.example)
	}
	for _, name := range []string{"bare", "blocked", "new", "invalid"} {
		if m := attack(loads[name], 1, 20, 200*time.Millisecond); m.bad > 0 {
			fmt.Fprintf(os.Stderr, "bench: warning: %s: %d of %d answers not %d, e.g. %s\n", name, m.bad, m.sent, loads[name].want, m.example)
		}
	}

	fig := map[string]*series{}
	for _, name := range []string{"bare", "blocked", "new", "duplicate", "invalid", "pgbench"} {
		fig[name] = &series{}
	}
	var ratioBlocked, ratioNew []float64
	for round := range o.rounds {
		fmt.Fprintf(os.Stderr, "bench: round %d of %d\n", round+1, o.rounds)
		rps := map[string]float64{}
		for _, name := range []string{"bare", "blocked", "new", "duplicate", "invalid"} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			server := svc
			if name == "bare" {
				server = base
			}
			before := readCPU(server.cmd.Process.Pid, o.pgPid)
			m := attack(loads[name], o.conc, 0, o.duration)
			used := readCPU(server.cmd.Process.Pid, o.pgPid).sub(before)
			fig[name].add(m, false)
			ok := float64(max(1, m.sent-m.bad))
			fig[name].server = append(fig[name].server, used.server/ok)
			fig[name].client = append(fig[name].client, used.client/ok)
			fig[name].pg = append(fig[name].pg, used.pg/ok)
			fig[name].busy = append(fig[name].busy, used.busy/used.total)
			rps[name] = m.rps
		}
		before := readCPU(0, o.pgPid)
		tps, client, err := pgbench(ctx, o.pgbench, dir, o.db, o.conc, o.duration)
		if err != nil {
			return err
		}
		used := readCPU(0, o.pgPid).sub(before)
		txs := tps * o.duration.Seconds()
		fig["pgbench"].rps = append(fig["pgbench"].rps, tps)
		fig["pgbench"].client = append(fig["pgbench"].client, client/txs)
		fig["pgbench"].pg = append(fig["pgbench"].pg, used.pg/txs)
		fig["pgbench"].busy = append(fig["pgbench"].busy, used.busy/used.total)
		ratioBlocked = append(ratioBlocked, rps["blocked"]/rps["bare"])
		ratioNew = append(ratioNew, rps["new"]/tps)
		for _, name := range []string{"bare", "blocked", "new"} {
			fig[name].add(attack(loads[name], o.conc, o.rate, o.duration), true)
		}
	}
	rss, rssErr := svc.peakRSS()
	if o.profile != "" {
		// Outside the rounds: profiling slows the service a little.
		for _, name := range []string{"blocked", "new"} {
			path := filepath.Join(o.profile, name+".pprof")
			if err := profile(svc.addr, token, path, o.duration, func() { attack(loads[name], o.conc, 0, o.duration) }); err != nil {
				return fmt.Errorf("profile %s: %w", name, err)
			}
			fmt.Fprintf(os.Stderr, "bench: CPU profile of the service, %s: %s (go tool pprof -top -cum %s %s)\n", name, path, o.bin, path)
		}
	}

	fmt.Fprintf(out, "%d rounds of %s per case; throughput at %d in flight (pgbench: %d clients); latency at a constant %d requests/s\n\n",
		o.rounds, o.duration, o.conc, o.conc, o.rate)
	fmt.Fprintln(out, "| case | requests/s (median) | range over rounds | p50 | p99 | ratio (median, range) | goal | CPU per request: server, client, Postgres | machine busy | not as expected |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
	row := func(label, name, ratio, goal string) {
		s := fig[name]
		lat50, lat99 := "", ""
		if len(s.p50) > 0 {
			lat50, lat99 = ms(median(s.p50)), ms(median(s.p99))
		}
		bad, server := "", "–"
		if name != "pgbench" {
			bad = fmt.Sprintf("%d of %d", s.bad, s.sent)
			server = fmt.Sprintf("%.0f", median(s.server)*1e6)
		}
		cpu := fmt.Sprintf("%s, %.0f, %.0f µs", server, median(s.client)*1e6, median(s.pg)*1e6)
		fmt.Fprintf(out, "| %s | %.0f | %.0f–%.0f | %s | %s | %s | %s | %s | %.0f%% | %s |\n",
			label, median(s.rps), slices.Min(s.rps), slices.Max(s.rps), lat50, lat99, ratio, goal, cpu, 100*median(s.busy), bad)
	}
	row("bare gin handler (baseline)", "bare", "", "")
	row("/subscribe, blocked IP (403)", "blocked", spread(ratioBlocked)+" of bare", "≥ 0.8")
	row("/subscribe, new address (202)", "new", spread(ratioNew)+" of pgbench", "≥ 1.0")
	row("pgbench, one insert per transaction", "pgbench", "", "")
	row("/subscribe, duplicate (202)", "duplicate", "", "")
	row("/subscribe, invalid address (422)", "invalid", "", "")
	if rssErr != nil {
		fmt.Fprintf(out, "\npeak RSS of the service: unknown (%v)\n", rssErr)
	} else {
		fmt.Fprintf(out, "\npeak RSS of the service: %.1f MiB\n", float64(rss)/(1<<20))
	}
	fmt.Fprintf(out, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for name, s := range fig {
		if s.bad > 0 {
			fmt.Fprintf(os.Stderr, "bench: %s: %d of %d answers not as expected, e.g. %s\n", name, s.bad, s.sent, s.example)
		}
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64) string {
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(xs), slices.Min(xs), slices.Max(xs))
}

func ms(ns float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.2f", ns/1e6), "0") + " ms"
}
