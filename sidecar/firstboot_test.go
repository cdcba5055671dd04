package sidecar_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestFirstbootVerdict: a node whose first boot failed (or left no verdict) never appears in
// Consul and says why on /health; a node with a good verdict registers as usual. The good
// node starts after the failed ones and becomes passing, which bounds the time in which a
// failed node would have registered.
func TestFirstbootVerdict(t *testing.T) {
	e := newEnv(t, testenv.ConsulOptions{}, jvbemu.Options{})
	dir := t.TempDir()
	const reason = "user-data: ensemble.consul.agent_token is required"
	failed := filepath.Join(dir, "failed.json")
	if err := status.Write(failed, status.Status{OK: false, Error: reason, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.json")
	if err := status.Write(good, status.Status{OK: true, PublicName: "node-good.example.org", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		id, file, want string
	}{
		{"node-failed", failed, reason},
		{"node-missing", filepath.Join(dir, "none.json"), "no such file"},
	} {
		logs := &testenv.Buffer{}
		o := e.options(tc.id, logs)
		o.NodeFirstbootStatus = tc.file
		o.NodePublicURL = "" // never written on a node whose first boot failed
		r := start(t, o)
		testenv.WaitFor(t, 10*time.Second, func() error {
			_, err := http.Get(r.url + "/-/ready")
			return err
		})
		code, body := get(t, http.DefaultClient, r.url+"/health")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"probe":"firstboot"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: /health = %d %s, want 503 naming %q", tc.id, code, body, tc.want)
		}
		if code, _ := post(t, r.ctl+"/drain"); code != http.StatusServiceUnavailable {
			t.Errorf("%s: POST /drain = %d, want 503 (nothing to drain)", tc.id, code)
		}
		if n := strings.Count(logs.String(), "first boot failed"); n != 1 {
			t.Errorf("%s: %d log lines about the failed first boot, want 1:\n%s", tc.id, n, logs.String())
		}
	}

	o := e.options("node-good", &testenv.Buffer{})
	o.NodeFirstbootStatus = good
	_, w := e.startPassing(t, o)
	if len(w.entries) != 1 || w.entries[0].Service.Meta["public_url"] != "https://node-good.example.org" {
		t.Fatalf("passing entries %+v", w.entries)
	}
	services, err := e.client.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	for id := range services {
		if id != "node-good" {
			t.Errorf("service %s is registered; only node-good should be", id)
		}
	}
}
