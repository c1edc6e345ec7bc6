package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// parseProcStat returns user+system CPU time from the text of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// hold spaces, so fields are counted from the last ')'.
func parseProcStat(raw string) (time.Duration, error) {
	i := strings.LastIndexByte(raw, ')')
	if i < 0 || i+2 > len(raw) {
		return 0, fmt.Errorf("not a /proc/<pid>/stat line: %.60q", raw)
	}
	fields := strings.Fields(raw[i+2:])
	// After the name: state(3) ... utime(14) stime(15), so indexes 11 and 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/<pid>/stat has %d fields after the name", len(fields))
	}
	u, err1 := strconv.ParseInt(fields[11], 10, 64)
	s, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/<pid>/stat: utime %q, stime %q", fields[11], fields[12])
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// cpuOf reads a process's CPU time (user+system); pid 0 is this process.
func cpuOf(pid int) (time.Duration, error) {
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	raw, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(raw))
}

// parseVmHWM returns the peak resident set size (VmHWM) in bytes from the
// text of /proc/<pid>/status.
func parseVmHWM(raw string) (int64, error) {
	for line := range strings.SplitSeq(raw, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM line")
}

// peakRSS reads a process's VmHWM.
func peakRSS(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(raw))
}

// machineCPU is the whole machine's CPU time from /proc/stat's "cpu" line,
// in clock ticks: busy (user, nice, system, irq, softirq, steal) and total
// (busy plus idle and iowait). Guest time is already in user.
type machineCPU struct{ Busy, Total int64 }

func parseMachineCPU(raw string) (machineCPU, error) {
	line, _, _ := strings.Cut(raw, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("/proc/stat does not start with the cpu line: %.60q", line)
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	busy := user + nice + system + irq + softirq + steal
	return machineCPU{Busy: busy, Total: busy + idle + iowait}, nil
}

func readMachineCPU() (machineCPU, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineCPU(string(raw))
}

// busyShare is the share of the machine's CPU that was busy between a and b.
func busyShare(a, b machineCPU) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}
