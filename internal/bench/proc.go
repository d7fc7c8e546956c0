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
	"syscall"
	"time"
)

// proc is a server the bench started: the service or the baseline.
type proc struct {
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan error
}

// startService runs "signupguard serve" with env and waits until it is ready.
// Its JSON log is read for the listening address, then thrown away.
func startService(ctx context.Context, bin string, env []string) (*proc, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	var tail []string // the last lines, for an error message
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addrc <- line.Addr
				break
			}
			tail = append(tail[max(0, len(tail)-20):], sc.Text())
		}
		io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		return nil, fmt.Errorf("signupguard serve exited: %v\n%s", err, strings.Join(tail, "\n"))
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, errors.New("signupguard serve did not listen within 60s")
	}
	// Ready means Postgres answers and the blocklists are loaded.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("signupguard not ready within 30s: %v", err)
		}
		select {
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
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
