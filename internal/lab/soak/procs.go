package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// Usage is one process's resources at one moment.
type Usage struct {
	PID      int   `json:"pid"`
	RSSBytes int64 `json:"rss_bytes"`
	FDs      int   `json:"open_files"`
	Threads  int   `json:"threads"`
	// Goroutines is go_goroutines from its /metrics, -1 without one.
	Goroutines int `json:"goroutines"`
}

// Resource is one daemon's usage at the start of the soak and at one later
// sample (just before a fault killed or stopped it, or at the end) and
// whether that sample is within the stated bound of the start.
type Resource struct {
	Name string `json:"name"`
	// When is "end" or "before <fault> at <offset>".
	When  string `json:"when"`
	Start Usage  `json:"start"`
	End   Usage  `json:"end"`
	// Restarted is true when the process at the end is not the one measured
	// at the start (a fault restarted it); it is held to the same bound.
	Restarted bool   `json:"restarted"`
	Bound     string `json:"bound"`
	OK        bool   `json:"ok"`
	Why       string `json:"why,omitempty"`
}

// limit is how much a daemon may grow: end ≤ start × factor + slack.
type limit struct {
	factor float64
	slack  float64
}

func (l limit) allows(start, end float64) bool { return end <= start*l.factor+l.slack }

// growth is the stated bound per kind of daemon. Ensemble's own daemons
// and the emulator hold no state that grows with requests, so they get
// tight bounds; Consul (raft log, KV) and Prometheus (TSDB head) grow with
// time by design, so their RSS bound is loose and their files bounded.
type growth struct{ goroutines, fds, rss limit }

const mib = 1 << 20

var (
	ownGrowth     = growth{goroutines: limit{1.5, 20}, fds: limit{1.5, 20}, rss: limit{2, 32 * mib}}
	foreignGrowth = growth{goroutines: limit{2, 100}, fds: limit{2, 64}, rss: limit{3, 128 * mib}}
)

func growthOf(name string) growth {
	for _, own := range []string{"sidecar", "selector", "jvbemu"} {
		if strings.Contains(name, own) {
			return ownGrowth
		}
	}
	return foreignGrowth
}

func (g growth) String() string {
	f := func(l limit, unit float64, suffix string) string {
		return fmt.Sprintf("x%g+%g%s", l.factor, l.slack/unit, suffix)
	}
	return fmt.Sprintf("goroutines %s, files %s, rss %s", f(g.goroutines, 1, ""), f(g.fds, 1, ""), f(g.rss, mib, "MiB"))
}

// sample measures every process of the fleet; a count that cannot be read
// (three tries) is an error for that process, and fails the run.
func sample(ctx context.Context, procs []fleet.Proc) (map[string]Usage, map[string]error) {
	out, errs := map[string]Usage{}, map[string]error{}
	for _, p := range procs {
		u, err := usageRetry(ctx, p)
		if err != nil {
			errs[p.Name] = err
			continue
		}
		out[p.Name] = u
	}
	return out, errs
}

func usageRetry(ctx context.Context, p fleet.Proc) (Usage, error) {
	var err error
	for range 3 {
		var u Usage
		if u, err = usage(ctx, p); err == nil {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return Usage{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return Usage{}, err
}

// leakWatch holds every daemon's start sample and the samples compared
// with it: one just before each fault kills or stops a daemon (so a leak
// in a process that a later fault replaces is still seen) and one at the
// end. A restarted process is held to its predecessor's start, which was
// measured warm, after the warm-up.
type leakWatch struct {
	// settle is how long a sample before a fault is taken again while it
	// is over bound (0: once). A daemon busy with requests in flight holds
	// a goroutine and a connection for each: a selector during a Consul
	// election, its lookups waiting up to their 3 s deadline, counted 72
	// goroutines against 27 at the start (seed 6551752796806853350). Those
	// end within the deadline; a leak does not.
	settle  time.Duration
	mu      sync.Mutex
	start   map[string]Usage
	results []Resource
}

// baseline takes the start sample.
func (l *leakWatch) baseline(ctx context.Context, procs []fleet.Proc) {
	start, errs := sample(ctx, procs)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.start = start
	for _, name := range slices.Sorted(maps.Keys(errs)) {
		l.results = append(l.results, Resource{Name: name, When: "start", Why: "unreadable: " + errs[name].Error()})
	}
}

// before samples the process named name just before a fault hits it.
func (l *leakWatch) before(ctx context.Context, procs []fleet.Proc, name, when string) {
	for _, p := range procs {
		if p.Name != name {
			continue
		}
		l.mu.Lock()
		s, known := l.start[name]
		l.mu.Unlock()
		deadline := time.Now().Add(l.settle)
		for {
			u, err := usageRetry(ctx, p)
			var r Resource
			switch {
			case err != nil:
				r = Resource{Name: name, When: when, Why: "unreadable: " + err.Error()}
			case !known:
				return
			default:
				r = compare(map[string]Usage{name: s}, map[string]Usage{name: u})[0]
				r.When = when
			}
			if err == nil && !r.OK && time.Now().Before(deadline) && ctx.Err() == nil {
				sleep(ctx, 500*time.Millisecond)
				continue
			}
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
			return
		}
	}
}

// end compares the end sample of every daemon with its start and returns
// every result, the samples before faults first.
func (l *leakWatch) end(end map[string]Usage, errs map[string]error) []Resource {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.results)
	for _, r := range compare(l.start, end) {
		r.When = "end"
		if err, ok := errs[r.Name]; ok {
			r.OK, r.Why = false, "unreadable: "+err.Error()
		}
		out = append(out, r)
	}
	return out
}

func usage(ctx context.Context, p fleet.Proc) (Usage, error) {
	u := Usage{PID: p.PID, Goroutines: -1}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return u, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			u.RSSBytes = n * 1024
		case "Threads":
			u.Threads = int(n)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID))
	if err != nil {
		return u, err
	}
	u.FDs = len(fds)
	if p.MetricsURL != "" {
		g, err := goroutines(ctx, p.MetricsURL)
		if err != nil {
			return u, fmt.Errorf("goroutines of %s: %w", p.Name, err)
		}
		u.Goroutines = g
	}
	return u, nil
}

var metricsClient = &http.Client{Timeout: 3 * time.Second}

// goroutines reads go_goroutines from a /metrics page.
func goroutines(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("%s: go_goroutines %q: %w", url, v, err)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("%s: no go_goroutines", url)
}

// compare holds every daemon's end usage to its bound.
func compare(start, end map[string]Usage) []Resource {
	var out []Resource
	for name, s := range start {
		g := growthOf(name)
		r := Resource{Name: name, Start: s, Bound: g.String(), OK: true}
		e, ok := end[name]
		if !ok {
			r.OK, r.Why = false, "not running at the end"
			out = append(out, r)
			continue
		}
		r.End, r.Restarted = e, e.PID != s.PID
		var why []string
		if s.Goroutines >= 0 && e.Goroutines >= 0 && !g.goroutines.allows(float64(s.Goroutines), float64(e.Goroutines)) {
			why = append(why, fmt.Sprintf("goroutines %d -> %d", s.Goroutines, e.Goroutines))
		}
		if !g.fds.allows(float64(s.FDs), float64(e.FDs)) {
			why = append(why, fmt.Sprintf("open files %d -> %d", s.FDs, e.FDs))
		}
		if !g.rss.allows(float64(s.RSSBytes), float64(e.RSSBytes)) {
			why = append(why, fmt.Sprintf("rss %.1f -> %.1f MiB", float64(s.RSSBytes)/mib, float64(e.RSSBytes)/mib))
		}
		if len(why) > 0 {
			r.OK, r.Why = false, strings.Join(why, ", ")
		}
		out = append(out, r)
	}
	return out
}

// Leftovers returns the processes still alive whose process group is one
// of groups (every fleet process leads its own group, and nginx workers
// share their master's): after the fleet's Stop there must be none.
// groups maps each fleet process's PID to its start time (StartTime; 0 if
// unknown). The kernel hands out a PID still used as a process group's ID
// to no new process, so a live process whose PID is a recorded group but
// whose start time differs means that group ended and its number went to
// someone else (PIDs wrap at 32768 on this machine, and other test suites
// run beside the soak): that group is not the fleet's, nor its members.
func Leftovers(groups map[int]uint64) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("leftovers: %w", err)
	}
	type proc struct {
		pid, pgrp   int
		comm, state string
	}
	var procs []proc
	reused := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		comm, pgrp, state, err := parseStat(stat)
		if err != nil {
			return nil, fmt.Errorf("leftovers: pid %d: %w", pid, err)
		}
		if want, ok := groups[pid]; ok && want != 0 {
			if got, ok := statStart(stat); ok && got != want {
				reused[pid] = true
			}
		}
		procs = append(procs, proc{pid, pgrp, comm, state})
	}
	var out []string
	for _, p := range procs {
		_, inGroup := groups[p.pgrp]
		_, fleetPID := groups[p.pid]
		switch {
		case p.state == "Z":
		case inGroup && !reused[p.pgrp]:
			out = append(out, fmt.Sprintf("pid %d (%s) in group %d", p.pid, p.comm, p.pgrp))
		case fleetPID && !reused[p.pid] && syscall.Kill(p.pid, 0) == nil:
			out = append(out, fmt.Sprintf("pid %d (%s)", p.pid, p.comm))
		}
	}
	return out, nil
}

// StartTime returns when process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat), or 0 when it cannot be read (gone).
func StartTime(pid int) uint64 {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	t, _ := statStart(stat)
	return t
}

// statStart reads the start time (field 22) from a /proc/PID/stat line.
func statStart(stat []byte) (uint64, bool) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 20 { // fields 3 (state) to 22 (starttime)
		return 0, false
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, err == nil
}

// parseStat reads the command, process group and state from
// /proc/PID/stat ("pid (comm) state ppid pgrp ..."; comm may hold spaces
// and parentheses, so it is cut at the last ')').
func parseStat(stat []byte) (comm string, pgrp int, state string, err error) {
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, "", errors.New("no (comm) in stat")
	}
	comm = string(stat[open+1 : end])
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 3 {
		return "", 0, "", fmt.Errorf("short stat %q", stat)
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return "", 0, "", fmt.Errorf("pgrp %q: %w", f[2], err)
	}
	return comm, pgrp, f[0], nil
}
