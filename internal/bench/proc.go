package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a server the bench started: the service or the baseline.
type proc struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan error
}

// startService runs "signupguard serve" on a loopback port of its choice
// with env and waits until it is ready. Its log is read for the listening
// address and thrown away but for the last lines, shown if it fails to
// start.
func startService(ctx context.Context, bin string, env []string) (*proc, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append(os.Environ(), env...), "SIGNUPGUARD_LISTEN=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	var mu sync.Mutex
	var tail []string // the last lines, for an error message
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sent := false; sc.Scan(); {
			var line struct{ Msg, Addr string }
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrc <- line.Addr
				sent = true
			}
			mu.Lock()
			tail = append(tail[max(0, len(tail)-20):], sc.Text())
			mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	failed := func(why error) error {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%w\n%s", why, strings.Join(tail, "\n"))
	}
	// Ready means Postgres answers and the blocklists are loaded.
	deadline := time.After(60 * time.Second)
	for {
		if p.addr != "" {
			resp, err := http.Get("http://" + p.addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, nil
				}
			}
		}
		select {
		case p.addr = <-addrc:
			continue
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case err := <-p.done:
			return nil, failed(fmt.Errorf("signupguard serve exited: %v", err))
		case <-deadline:
			p.stop()
			return nil, failed(errors.New("signupguard not ready within 60s"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startBaseline runs this program as the bare gin server.
func startBaseline() (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "baseline")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("baseline: %w", err)
	}
	p.addr = strings.TrimSpace(line)
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop sends SIGTERM and waits up to 30 s before killing.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		return errors.New("did not stop within 30s of SIGTERM")
	}
}

// peakRSS returns the process's high-water resident set (VmHWM), in bytes.
func (p *proc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
