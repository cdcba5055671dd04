package soak

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

func TestUsageOfSelf(t *testing.T) {
	u, err := usage(context.Background(), fleet.Proc{Name: "test", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if u.RSSBytes < 1<<20 || u.FDs < 3 || u.Threads < 1 || u.Goroutines != -1 {
		t.Errorf("usage of the test process: %+v", u)
	}
	if _, err := usage(context.Background(), fleet.Proc{Name: "none", PID: 1 << 30}); err == nil {
		t.Error("usage of a process that does not exist: no error")
	}
}

// A process in a recorded group is reported until it is gone.
func TestLeftovers(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	start := StartTime(pid)
	if start == 0 {
		t.Fatalf("start time of pid %d unreadable", pid)
	}
	for _, tc := range []struct {
		name   string
		start  uint64
		report bool
	}{
		{"the fleet's process", start, true},
		{"start time unknown", 0, true},
		// The PID (and so the group) was a fleet process's that ended; another process got it.
		{"a reused PID", start - 1, false},
	} {
		left, err := Leftovers(map[int]uint64{pid: tc.start})
		if err != nil || (len(left) == 1) != tc.report || len(left) > 1 {
			t.Errorf("%s: leftovers with sleep running = %v, %v; want reported: %v", tc.name, left, err, tc.report)
		}
	}
	groups := map[int]uint64{pid: start}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if left, err := Leftovers(groups); err != nil || len(left) != 0 {
		t.Errorf("leftovers after sleep was killed: %v %v", left, err)
	}
}

func TestCompareBounds(t *testing.T) {
	start := map[string]Usage{
		"node-1 sidecar": {PID: 10, RSSBytes: 20 * mib, FDs: 12, Goroutines: 30},
		"selector-1":     {PID: 11, RSSBytes: 20 * mib, FDs: 12, Goroutines: 30},
		"prometheus":     {PID: 12, RSSBytes: 100 * mib, FDs: 40, Goroutines: 200},
		"node-2 sidecar": {PID: 13, RSSBytes: 20 * mib, FDs: 12, Goroutines: 30},
	}
	end := map[string]Usage{
		"node-1 sidecar": {PID: 20, RSSBytes: 30 * mib, FDs: 15, Goroutines: 60},  // restarted, within
		"selector-1":     {PID: 11, RSSBytes: 20 * mib, FDs: 12, Goroutines: 300}, // goroutine leak
		"prometheus":     {PID: 12, RSSBytes: 300 * mib, FDs: 60, Goroutines: 250},
	}
	got := map[string]Resource{}
	for _, r := range compare(start, end) {
		got[r.Name] = r
	}
	for name, want := range map[string]bool{"node-1 sidecar": true, "selector-1": false, "prometheus": true, "node-2 sidecar": false} {
		if got[name].OK != want {
			t.Errorf("%s: ok = %v, want %v (%s)", name, got[name].OK, want, got[name].Why)
		}
	}
	if !got["node-1 sidecar"].Restarted {
		t.Error("node-1 sidecar: restart not noticed")
	}
}

func TestParseStat(t *testing.T) {
	comm, pgrp, state, err := parseStat([]byte("4242 (nginx: worker) S 4241 4241 4241 0 -1 4194624 86 0 0 0"))
	if err != nil || comm != "nginx: worker" || pgrp != 4241 || state != "S" {
		t.Errorf("parseStat = %q %d %q %v", comm, pgrp, state, err)
	}
	for _, bad := range []string{"", "12 nginx S 1 1", "12 (x) S 1", "12 (x) S 1 pgrp"} {
		if _, _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
	full := "4242 (nginx: worker) S 4241 4241 4241 0 -1 4194624 86 0 0 0 1 2 0 0 20 0 1 0 987654 123 45"
	if got, ok := statStart([]byte(full)); !ok || got != 987654 {
		t.Errorf("statStart = %d, %v; want 987654", got, ok)
	}
	if _, ok := statStart([]byte("4242 (x) S 4241 4241 4241 0")); ok {
		t.Error("statStart of a short stat: no error")
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (systemd) S 0 1 1 0 -1 4194560"))
	f.Add([]byte("77 (a) b) c) R 1 77 77"))
	f.Fuzz(func(t *testing.T, stat []byte) {
		statStart(stat) // must not panic on any input
		comm, _, state, err := parseStat(stat)
		if err != nil {
			return
		}
		if len(comm) > len(stat) || state == "" {
			t.Errorf("parseStat(%q) = comm %q state %q", stat, comm, state)
		}
	})
}

// TestLeakWatch: a daemon is held to its start before each kill and at the end, and a count that
// cannot be read fails it rather than being skipped.
func TestLeakWatch(t *testing.T) {
	ctx := context.Background()
	goroutines := 30
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", goroutines)
	}))
	t.Cleanup(srv.Close)
	self := fleet.Proc{Name: "selector-1", PID: os.Getpid(), MetricsURL: srv.URL}
	broken := fleet.Proc{Name: "sidecar", PID: os.Getpid(), MetricsURL: "http://127.0.0.1:1/metrics"}
	if _, err := usage(ctx, broken); err == nil {
		t.Fatal("usage with an unreadable /metrics: no error")
	}

	l := &leakWatch{}
	l.baseline(ctx, []fleet.Proc{self, broken})
	goroutines = 1000 // a leak, seen just before a kill
	l.before(ctx, []fleet.Proc{self}, "selector-1", "before selector-kill at 20.0s")
	goroutines = 31 // the restarted process is back to normal
	got := map[string]bool{}
	for _, r := range l.end(sample(ctx, []fleet.Proc{self, broken})) {
		got[r.Name+" "+r.When] = r.OK
	}
	want := map[string]bool{"sidecar start": false, "selector-1 before selector-kill at 20.0s": false, "selector-1 end": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results %v, want %v", got, want)
	}
}

// A daemon sampled before a fault while busy with requests in flight (a
// selector during a Consul election: seed 6551752796806853350 counted 72
// goroutines against 27) is sampled again until they have ended; one that
// stays over bound is a leak.
func TestBeforeKillSettles(t *testing.T) {
	self, err := usage(context.Background(), fleet.Proc{Name: "test", PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		busy   int // answers with 72 goroutines before 27
		settle time.Duration
		ok     bool
	}{
		{"requests in flight end", 2, 5 * time.Second, true},
		{"sampled once", 2, 0, false},
		{"a leak", 1 << 30, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				g := 27
				if n.Add(1) <= int64(tc.busy) {
					g = 72
				}
				fmt.Fprintf(w, "go_goroutines %d\n", g)
			}))
			defer srv.Close()
			start := self
			start.Goroutines = 27
			l := &leakWatch{settle: tc.settle, start: map[string]Usage{"selector-1": start}}
			l.before(context.Background(), []fleet.Proc{{Name: "selector-1", PID: os.Getpid(), MetricsURL: srv.URL}}, "selector-1", "before selector-kill")
			if len(l.results) != 1 || l.results[0].OK != tc.ok {
				t.Fatalf("results %+v, want one with ok %v", l.results, tc.ok)
			}
		})
	}
}
