package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/common/promslog"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

// env is one Jitsi node's surroundings: a real Consul dev agent, a real nginx and the JVB
// emulator.
type env struct {
	consul *testenv.Consul
	client *api.Client
	nginx  *testenv.Nginx
	emu    *jvbemu.Emulator
	emuURL string
	emuSrv *httptest.Server // closing it leaves the bridge's port refusing connections
}

func newEnv(t *testing.T, co testenv.ConsulOptions, eo jvbemu.Options) *env {
	t.Helper()
	e := &env{consul: testenv.StartConsul(t, co), nginx: testenv.StartNginx(t, testenv.NginxOptions{})}
	e.client = e.consul.Client(t)
	e.emu = jvbemu.New(eo)
	srv := httptest.NewServer(e.emu)
	t.Cleanup(srv.Close)
	e.emuURL, e.emuSrv = srv.URL, srv
	return e
}

// options returns short-interval options for a sidecar with service ID id.
func (e *env) options(id string, logs io.Writer) sidecar.Options {
	o := sidecar.DefaultOptions()
	o.ConsulServiceID = id
	o.Consul = &api.Config{Address: e.consul.Addr}
	o.ConsulCheckInterval = time.Second // Consul's minimum
	// Probes get half of this; less would fail /health on a loaded machine.
	o.ConsulCheckTimeout = time.Second
	o.ConsulCheckSuccessBeforePassing = 1
	o.ConsulResyncInterval = 2 * time.Second
	o.ConsulRetryMin = 50 * time.Millisecond
	o.NodePublicURL = "https://" + id + ".example.org"
	o.NodeAddress = "127.0.0.1"
	o.NodeRegion = "eu-test"
	o.NodeTag = []string{"test"}
	o.NodeCapacity = 4
	o.Version = "test-1"
	o.CollectorJVBURL = e.emuURL
	o.CollectorNginxScrapeURI = e.nginx.StubStatusURL
	o.DrainTimeout = time.Minute
	o.DrainPollInterval = 50 * time.Millisecond
	o.DrainProgressInterval = 200 * time.Millisecond
	// Debug level, so that a secret leaking into any log line would be caught.
	level := promslog.NewLevel()
	_ = level.Set("debug")
	o.Logger = promslog.New(&promslog.Config{Writer: logs, Level: level})
	return o
}

// running is a sidecar.Run in a goroutine.
type running struct {
	url    string
	ctl    string // the control listener's base URL
	cancel context.CancelFunc
	skip   chan struct{}
	done   chan error
	once   sync.Once
}

// start runs the sidecar on a listener of its own; cleanup stops it without waiting for
// meetings.
func start(t *testing.T, o sidecar.Options) *running {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.WebListeners = []net.Listener{l}
	if o.WebControlListener == nil {
		if o.WebControlListener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{url: "http://" + l.Addr().String(), ctl: "http://" + o.WebControlListener.Addr().String(),
		cancel: cancel, skip: make(chan struct{}), done: make(chan error, 1)}
	o.SkipWait = r.skip
	go func() { r.done <- sidecar.Run(ctx, o) }()
	t.Cleanup(func() {
		r.cancel()
		r.skipWait()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("sidecar.Run did not return after cancel and skip")
		}
	})
	return r
}

func (r *running) skipWait() { r.once.Do(func() { close(r.skip) }) }

// wait returns Run's result, failing the test if it takes longer than d.
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // let cleanup see it too
		return err
	case <-time.After(d):
		t.Fatalf("sidecar.Run still running after %v", d)
		return nil
	}
}

// startPassing starts the sidecar and waits until Consul lists it as passing; the returned
// watch continues from there.
func (e *env) startPassing(t *testing.T, o sidecar.Options) (*running, *passingWatch) {
	t.Helper()
	r := start(t, o)
	w := newPassingWatch(t, e.client, o.ConsulService)
	w.until(t, o.ConsulServiceID, true, time.Now(), 10*time.Second)
	return r, w
}

// passingIDs lists the IDs of the service's instances that pass all checks.
func passingIDs(entries []*api.ServiceEntry) []string {
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	return ids
}

// passingWatch follows /v1/health/service/NAME?passing with blocking queries, the way the
// selector does, to measure when a change becomes visible.
type passingWatch struct {
	client  *api.Client
	service string
	index   uint64
	ids     []string
	entries []*api.ServiceEntry // as last seen
}

func newPassingWatch(t *testing.T, c *api.Client, service string) *passingWatch {
	t.Helper()
	w := &passingWatch{client: c, service: service}
	entries, meta, err := c.Health().Service(service, "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.index, w.ids, w.entries = meta.LastIndex, passingIDs(entries), entries
	return w
}

// until blocks until id is (present) or is not (!present) passing and returns the time since
// from, failing after timeout.
func (w *passingWatch) until(t *testing.T, id string, present bool, from time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	deadline := from.Add(timeout)
	for slices.Contains(w.ids, id) != present {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("%s passing=%v not seen within %v (passing: %v)", id, present, timeout, w.ids)
		}
		ctx, cancel := context.WithTimeout(context.Background(), left)
		entries, meta, err := w.client.Health().Service(w.service, "", true,
			(&api.QueryOptions{WaitIndex: w.index, WaitTime: left}).WithContext(ctx))
		cancel()
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("%s passing=%v not seen within %v: %v", id, present, timeout, err)
			}
			continue
		}
		if meta.LastIndex < w.index {
			w.index = 0
		} else {
			w.index = meta.LastIndex
		}
		w.ids, w.entries = passingIDs(entries), entries
	}
	return time.Since(from)
}

// get fetches url and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// post sends a control POST the way the rolling playbook does: JSON, no body.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// agentHas reports whether the local agent has the service, and whether it is in maintenance.
func agentHas(c *api.Client, id string) (present, maintenance bool, err error) {
	svcs, err := c.Agent().Services()
	if err != nil {
		return false, false, err
	}
	if _, ok := svcs[id]; !ok {
		return false, false, nil
	}
	checks, err := c.Agent().Checks()
	if err != nil {
		return false, false, err
	}
	_, maintenance = checks["_service_maintenance:"+id]
	return true, maintenance, nil
}

func waitAgent(t *testing.T, c *api.Client, id string, present, maintenance bool, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, func() error {
		p, m, err := agentHas(c, id)
		if err != nil {
			return err
		}
		if p != present || (present && m != maintenance) {
			return fmt.Errorf("agent: present=%v maintenance=%v, want %v/%v", p, m, present, maintenance)
		}
		return nil
	})
}

// metricValue returns the value of the first sample line starting with prefix.
func metricValue(body, prefix string) (string, error) {
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			return rest, nil
		}
	}
	return "", errors.New(prefix + " not found")
}

// checkOutput returns the output of the service's HTTP check, which names the URL called
// ("HTTP GET <url>: 200 OK Output: ..."); the agent API does not return the definition.
func checkOutput(t *testing.T, c *api.Client, id string) string {
	t.Helper()
	checks, err := c.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	chk, ok := checks["service:"+id]
	if !ok {
		t.Fatalf("no check service:%s in %v", id, checks)
	}
	return chk.Output
}
