package selector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// node is one emulated Jitsi node: a sidecar-like target registered in Consul with an HTTP check.
type node struct {
	id     string
	url    string // public_url
	target *testenv.Target
}

// addNode registers an emulated node in region "test" whose Consul check polls the target's /health
// every second.
func addNode(t *testing.T, c *api.Client, id, publicURL string, cpus float64) *node {
	t.Helper()
	return addNodeIn(t, c, id, publicURL, cpus, "test")
}

// addNodeIn is addNode in a region.
func addNodeIn(t *testing.T, c *api.Client, id, publicURL string, cpus float64, region string) *node {
	t.Helper()
	tg := testenv.StartTarget(cpus)
	t.Cleanup(tg.Close)
	host, portStr, _ := net.SplitHostPort(tg.Addr())
	port, _ := strconv.Atoi(portStr)
	reg := &api.AgentServiceRegistration{
		ID: id, Name: "jitsi", Address: host, Port: port,
		Meta: map[string]string{
			registration.MetaPublicURL: publicURL, registration.MetaRegion: region, registration.MetaCapacity: fmt.Sprint(cpus),
			registration.MetaSidecarPort: portStr, registration.MetaVersion: "test",
		},
		Check: &api.AgentServiceCheck{CheckID: "service:" + id, HTTP: tg.URL() + "/health", Interval: "1s", Timeout: "500ms"},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	return &node{id: id, url: publicURL, target: tg}
}

// addNodes registers n nodes node-0..node-(n-1) with public URLs https://node-i.example.org.
func addNodes(t *testing.T, c *api.Client, n int) []*node {
	nodes := make([]*node, n)
	for i := range nodes {
		id := fmt.Sprintf("node-%d", i)
		nodes[i] = addNode(t, c, id, "https://"+id+".example.org", 4)
	}
	return nodes
}

// instance is a selector running in the test process.
type instance struct {
	sel *Selector
	url string
	reg *prometheus.Registry
}

// testOptions are fast settings for tests: direct load source, short intervals.
func testOptions(t *testing.T, consul *testenv.Consul) Options {
	opts := DefaultOptions()
	opts.ListenAddresses = []string{"127.0.0.1:0"}
	opts.Consul = consul.Client(t)
	// The test agent registers every emulated node on its own Consul node.
	opts.NodesUnbound = true
	opts.LoadSource = "direct"
	opts.PrometheusInterval = 200 * time.Millisecond
	opts.LoadTimeout = time.Second
	opts.Now = time.Now
	opts.Logger = testLogger(t)
	return opts
}

func testLogger(t *testing.T) *slog.Logger { return testLoggerTB(t) }

func testLoggerTB(testing.TB) *slog.Logger {
	if testing.Verbose() {
		return promslog.New(&promslog.Config{Writer: os.Stderr})
	}
	return slog.New(slog.DiscardHandler)
}

// start runs a selector until the test ends and waits until it is ready.
func start(t *testing.T, opts Options) *instance {
	t.Helper()
	s, addr, cancel, done := launch(t, opts)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	in := &instance{sel: s, url: "http://" + addr, reg: s.opts.Registry}
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, err := in.get("/-/ready", nil)
		return err
	})
	return in
}

// launch starts Run with a fresh registry and returns once it listens: the selector, its
// address, the cancel of Run's context and Run's result.
func launch(t *testing.T, opts Options) (*Selector, string, context.CancelFunc, <-chan error) {
	t.Helper()
	opts.Registry = prometheus.NewRegistry()
	addr := make(chan string, 1)
	opts.OnListen = func(a []net.Addr) { addr <- a[0].String() }
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case a := <-addr:
		return s, a, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before listening: %v", err)
		return nil, "", nil, nil
	}
}

var client = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends a request and decodes a JSON answer into v (if not nil); non-2xx/3xx answers are errors.
func (in *instance) do(method, path string, v any) (*http.Response, error) {
	req, err := http.NewRequest(method, in.url+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode >= 400 {
		return resp, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp, fmt.Errorf("%s %s: %w: %s", method, path, err, body)
		}
	}
	return resp, nil
}

func (in *instance) get(path string, v any) (*http.Response, error) {
	return in.do(http.MethodGet, path, v)
}

func (in *instance) room(t *testing.T, room string) roomBody {
	t.Helper()
	var b roomBody
	if _, err := in.get("/api/v1/rooms/"+room, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (in *instance) newRoom(t *testing.T) roomBody {
	t.Helper()
	var b roomBody
	resp, err := in.do(http.MethodPost, "/api/v1/rooms", &b)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/rooms: %s", resp.Status)
	}
	return b
}

func (in *instance) nodes(t *testing.T) nodesBody {
	t.Helper()
	var b nodesBody
	if _, err := in.get("/api/v1/nodes", &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitNodes waits until the fleet view has want (id → state; "absent" for a node that must be missing).
func (in *instance) waitNodes(t *testing.T, timeout time.Duration, want map[string]string) {
	t.Helper()
	testenv.WaitFor(t, timeout, func() error {
		got := map[string]string{}
		for _, n := range in.nodes(t).Nodes {
			got[n.ID] = n.State
		}
		for id, st := range want {
			g, ok := got[id]
			if st == "absent" && ok || st != "absent" && g != st {
				return fmt.Errorf("node %s: %q, want %s (fleet %v)", id, g, st, got)
			}
		}
		return nil
	})
}

// waitEligible waits until the nodes are eligible with load data: a node without data takes no new rooms
// while others have some.
func (in *instance) waitEligible(t *testing.T, nodes []*node) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, func() error {
		ready := map[string]bool{}
		for _, n := range in.nodes(t).Nodes {
			ready[n.ID] = n.State == "eligible" && n.Load != nil && n.AgeSeconds != nil
		}
		for _, n := range nodes {
			if !ready[n.id] {
				return fmt.Errorf("node %s not eligible with load data yet", n.id)
			}
		}
		return nil
	})
}

// metric returns the value of one series of the instance's registry ("" labels = the only series).
func (in *instance) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

// prometheusConfig adapts the shipped prometheus-http-sd.yml to this test: discovery from the selector's
// /api/v1/sd, 1 s scrapes and rule evaluations, the shipped rules by absolute path.
func prometheusConfig(t *testing.T, selectorURL string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/prometheus/prometheus-http-sd.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs("../deploy/prometheus/rules")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for old, repl := range map[string]string{
		"http://127.0.0.1:8080/api/v1/sd": selectorURL + "/api/v1/sd",
		"refresh_interval: 5s":            "refresh_interval: 1s",
		"scrape_interval: 5s":             "scrape_interval: 1s",
		"scrape_timeout: 4s":              "scrape_timeout: 900ms",
		"evaluation_interval: 5s":         "evaluation_interval: 1s",
		"- rules/*.yml":                   "- " + rules + "/*.yml",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("shipped prometheus-http-sd.yml has no %q; update this test", old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	return cfg
}
