package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 1.0 / 100

// cpuTimes is a snapshot of CPU times, in seconds.
type cpuTimes struct {
	server      float64 // the server process
	client      float64 // this process: the load generator
	pg          float64 // the Postgres cluster: postmaster, its children, and its children gone
	busy, total float64 // all CPUs: busy, and in all
}

// readCPU reads the CPU times of the server pid, of this process, of the
// cluster whose postmaster is pgPid (0: none) and of the machine. Errors give
// zeros: the figures explain results, they are not results.
func readCPU(pid, pgPid int) cpuTimes {
	var c cpuTimes
	c.server, _ = procCPU(pid, false)
	c.client, _ = procCPU(os.Getpid(), false)
	if pgPid > 0 {
		c.pg, _ = procCPU(pgPid, true)
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if child, err := strconv.Atoi(e.Name()); err == nil && child != pgPid {
				if t, ppid := procCPU(child, false); ppid == pgPid {
					c.pg += t
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, v := range strings.Fields(line)[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			c.total += x * clockTick
			if i != 3 && i != 4 { // idle, iowait
				c.busy += x * clockTick
			}
		}
	}
	return c
}

// sub returns the CPU used between b and c.
func (c cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{server: c.server - b.server, client: c.client - b.client, pg: c.pg - b.pg, busy: c.busy - b.busy, total: c.total - b.total}
}

// procCPU returns the CPU seconds of pid (with waitedFor, those of its
// children that have exited too) and its parent's pid.
func procCPU(pid int, waitedFor bool) (float64, int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: ppid, then utime, stime, cutime, cstime at 12 to 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(f[1])
	var t float64
	n := 13
	if waitedFor {
		n = 15
	}
	for _, v := range f[11:n] {
		x, _ := strconv.ParseFloat(v, 64)
		t += x * clockTick
	}
	return t, ppid
}
