package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load is one kind of request the bench sends.
type load struct {
	url  string
	from net.IP        // source address; nil: the system's choice
	body func() []byte // a new body per request
	want int           // the status every answer should have
}

// measure is what one run of a load saw.
type measure struct {
	rps      float64 // answers with the wanted status per second
	p50, p99 time.Duration
	sent     int
	bad      int // transport errors and answers of another status
	example  string
}

// attack sends l for d. With rate 0 it keeps conc requests in flight (a
// closed loop: throughput at that concurrency); otherwise it starts rate
// requests a second whatever the answers' pace (open loop: latencies free
// of coordinated omission, as vegeta adds workers when all are busy).
func attack(l load, conc, rate int, d time.Duration) measure {
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	tr := func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, l.url, hdr, l.body()
		return nil
	}
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(uint64(conc)), vegeta.Connections(conc), vegeta.Timeout(10 * time.Second),
		vegeta.KeepAlive(true), vegeta.Redirects(vegeta.NoFollow),
	}
	pace := vegeta.Rate{Freq: rate, Per: time.Second}
	if rate == 0 {
		opts = append(opts, vegeta.MaxWorkers(uint64(conc)), vegeta.MaxConnections(conc))
	}
	if l.from != nil {
		opts = append(opts, vegeta.LocalAddr(net.IPAddr{IP: l.from}))
	}
	start := time.Now()
	var m measure
	lat := make([]time.Duration, 0, 4096)
	for r := range vegeta.NewAttacker(opts...).Attack(vegeta.Targeter(tr), pace, d, "bench") {
		m.sent++
		// vegeta fills Error for any status >= 400 too; only Code 0 means
		// the request failed in transport.
		if int(r.Code) != l.want {
			m.bad++
			if m.example == "" {
				m.example = fmt.Sprintf("%d %s %.100s", r.Code, r.Error, r.Body)
			}
			continue
		}
		lat = append(lat, r.Latency)
	}
	elapsed := time.Since(start)
	m.rps = float64(len(lat)) / elapsed.Seconds()
	slices.Sort(lat)
	if len(lat) > 0 {
		m.p50 = lat[len(lat)*50/100]
		m.p99 = lat[len(lat)*99/100]
	}
	return m
}

// pgbenchScript inserts one new subscriber per transaction, as a request
// for a new address would without batching.
const pgbenchScript = `\set r random(1, 1000000000000)
insert into subscribers (list, address, address_key, name, client_ip)
values ('default', 'pgb' || :r || '@` + mailDomain + `', 'pgb' || :r || '@` + mailDomain + `', '', '127.0.0.1')
on conflict (list, address_key) do nothing;
`

// pgbench runs pgbenchScript for d at concurrency conc against url and
// returns its transactions per second and the CPU seconds pgbench used.
func pgbench(ctx context.Context, bin, dir, url string, conc int, d time.Duration) (float64, float64, error) {
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return 0, 0, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, bin, "-n", "-M", "prepared", "-c", strconv.Itoa(conc), "-j", "2",
		"-T", strconv.Itoa(secs), "-f", script, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	sc := bufio.NewScanner(bytes.NewReader(out))
	re := regexp.MustCompile(`^tps = ([0-9.]+) \(without initial connection time\)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			tps, err := strconv.ParseFloat(m[1], 64)
			return tps, cpu, err
		}
	}
	return 0, 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
}
