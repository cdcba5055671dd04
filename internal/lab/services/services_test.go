package services

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFreePortsDistinct(t *testing.T) {
	t.Parallel()
	ports, err := freePorts(8, true)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d offered twice in %v", p, ports)
		}
		seen[p] = true
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d out of range", p)
		}
	}
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := newUUID(), newUUID()
	if !re.MatchString(a) || a == b {
		t.Fatalf("bad UUIDs %q %q", a, b)
	}
}

func TestBindClash(t *testing.T) {
	t.Parallel()
	for log, want := range map[string]bool{
		`nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address already in use)`:     true,
		`Error starting agent: listen tcp 127.0.0.1:8500: bind: address already in use`: true,
		`nginx: [emerg] unknown directive "foo"`:                                        false,
	} {
		if got := bindClash(log); got != want {
			t.Errorf("bindClash(%q) = %v, want %v", log, got, want)
		}
	}
}

// TestNginxStopLeavesNoProcess checks the whole process group (master and
// worker) is gone after Stop, and that the port is closed.
func TestNginxStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := StartNginx(ctx, NginxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pgid := n.proc.PID()
	resp, err := http.Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ensemble") {
		t.Fatalf("docroot: %d %q", resp.StatusCode, body)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Stop: %v", pgid, err)
	}
	if _, err := http.Get(n.StubStatusURL); err == nil {
		t.Fatal("nginx still answers after Stop")
	}
}

func TestStartNginxBadConfig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := StartNginx(ctx, NginxOptions{ExtraServerConf: "no_such_directive on;"})
	if err == nil || !strings.Contains(err.Error(), "no_such_directive") {
		t.Fatalf("want an error quoting the bad directive, got %v", err)
	}
}

// Halt and Restart keep nginx's port and configuration: the chaos soak
// stops a node's nginx and brings it back under the same URL.
func TestNginxHaltRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := StartNginx(ctx, NginxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	first := n.PID()
	if err := n.Halt(); err != nil {
		t.Fatal(err)
	}
	if n.PID() != 0 {
		t.Errorf("PID after Halt = %d, want 0", n.PID())
	}
	if err := syscall.Kill(-first, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Halt: %v", first, err)
	}
	if _, err := http.Get(n.StubStatusURL); err == nil {
		t.Fatal("nginx still answers after Halt")
	}
	if err := n.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if n.PID() == 0 || n.PID() == first {
		t.Errorf("PID after Restart = %d (first run %d)", n.PID(), first)
	}
	resp, err := http.Get(n.StubStatusURL)
	if err != nil {
		t.Fatalf("same URL after Restart: %v", err)
	}
	resp.Body.Close()
	if err := n.Restart(ctx); err == nil {
		t.Error("Restart of a running nginx: no error")
	}
}
