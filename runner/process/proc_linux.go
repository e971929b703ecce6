package process

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// procStat is what the runner reads of /proc/{pid}/stat.
type procStat struct {
	pgrp       int
	start      uint64 // clock ticks after boot: tells a pid's reuse apart
	cpuSeconds float64
	rssBytes   int64
	zombie     bool
}

// clockTicks is USER_HZ, 100 on every Linux the runner targets.
const clockTicks = 100

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces: fields are
	// counted from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bad stat for %d", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); pgrp is field 5, utime 14, stime 15,
	// starttime 22, rss 24.
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("short stat for %d", pid)
	}
	num := func(k int) uint64 { v, _ := strconv.ParseUint(f[k-3], 10, 64); return v }
	pgrp, _ := strconv.Atoi(f[5-3])
	return procStat{
		pgrp:       pgrp,
		start:      num(22),
		cpuSeconds: float64(num(14)+num(15)) / clockTicks,
		rssBytes:   int64(num(24)) * int64(os.Getpagesize()),
		zombie:     f[0] == "Z" || f[0] == "X",
	}, nil
}

func numCPU() int { return runtime.NumCPU() }

// memTotal is the machine's memory in bytes, from /proc/meminfo.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// traversable lets other users pass through (not list) every folder above
// path, so a workload running as its own user reaches its folders.
func traversable(path string) {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, fi.Mode().Perm()|0o001)
		}
		if d == "/" || d == "." {
			return
		}
	}
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// publicListener returns the address of a socket listening on port on an
// address other than loopback ("0.0.0.0:8000"), or "" when there is none,
// from /proc/net/tcp and tcp6.
func publicListener(port int) string {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		if addr := scanListeners(string(b), port); addr != "" {
			return addr
		}
	}
	return ""
}

// scanListeners reads one /proc/net/tcp{,6} table: "sl local rem st …",
// local as HEXADDR:HEXPORT with the address in 32-bit words of host order
// (little-endian here), st 0A for LISTEN.
func scanListeners(table string, port int) string {
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
			continue
		}
		ip := decodeProcAddr(hexAddr)
		if ip == nil || ip.IsLoopback() {
			continue
		}
		return net.JoinHostPort(ip.String(), strconv.Itoa(port))
	}
	return ""
}

func decodeProcAddr(h string) net.IP {
	if len(h) != 8 && len(h) != 32 {
		return nil
	}
	ip := make(net.IP, len(h)/2)
	for w := 0; w < len(h)/8; w++ {
		word, err := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
		if err != nil {
			return nil
		}
		for i := 0; i < 4; i++ {
			ip[w*4+i] = byte(word >> (8 * i))
		}
	}
	return ip
}
