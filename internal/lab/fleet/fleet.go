package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// ServiceName is the Consul service the sidecars register and the selectors watch.
const ServiceName = "jitsi"

// Fleet is a running fleet. Stop ends it.
type Fleet struct {
	// Consul is the agent every sidecar and selector talks to. In a cluster it
	// is a follower at start, so killing the leader leaves it reachable.
	Consul *services.Consul
	// Cluster is set when the fleet runs three Consul servers.
	Cluster *services.ConsulCluster
	// Prometheus scrapes the sidecars it discovers through the selectors'
	// HTTP service discovery; not running between StopPrometheus and
	// StartPrometheus.
	Prometheus *services.Prometheus
	// Nodes are the emulated Jitsi servers, node-1 first.
	Nodes []*Node
	// Selectors are the selector replicas; they share rooms through Consul KV.
	Selectors []*Selector

	opts      Options
	dir       string
	ownDir    bool
	cert, key string
	load      *loadGen
}

// Start brings the fleet up, part after part, printing progress, and
// returns once every part answers its readiness check. On error, whatever
// started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Fleet, err error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("fleet options: %w", err)
	}
	if err := opts.preflight(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f := &Fleet{opts: opts, dir: opts.WorkDir}
	if f.dir == "" {
		if f.dir, err = os.MkdirTemp("", "ensemble-fleet-"); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		f.ownDir = true
	} else if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	// nginx workers run as nobody when we are root and must read the certificate.
	if err := os.Chmod(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	defer func() {
		if err != nil {
			f.Stop()
		}
	}()
	if f.cert, f.key, err = writeCert(f.dir); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}

	if err := f.step("consul", f.startConsul, ctx); err != nil {
		return nil, err
	}
	if err := f.step(fmt.Sprintf("%d nodes", opts.Nodes), f.startNodes, ctx); err != nil {
		return nil, err
	}
	if err := f.step("consul registration of every node", func(ctx context.Context) error {
		return f.WaitPassing(ctx, len(f.Nodes))
	}, ctx); err != nil {
		return nil, err
	}
	if err := f.step("prometheus", f.startPrometheus, ctx); err != nil {
		return nil, err
	}
	if err := f.step(fmt.Sprintf("%d selectors", opts.Selectors), f.startSelectors, ctx); err != nil {
		return nil, err
	}
	if err := f.step("prometheus service discovery", f.configurePrometheus, ctx); err != nil {
		return nil, err
	}
	if opts.Load > 0 {
		f.load = startLoad(f, opts.Load)
	}
	return f, nil
}

// step runs one start step with a deadline and prints how long it took.
func (f *Fleet) step(name string, fn func(context.Context) error, ctx context.Context) error {
	fmt.Fprintf(f.opts.Progress, "starting %s ...\n", name)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	fmt.Fprintf(f.opts.Progress, "  %s ready in %.1fs\n", name, time.Since(start).Seconds())
	return nil
}

// startChild starts one of the fleet's binaries with its output in
// logName.log, and waits for the line matching listening, whose first
// submatch (the address it bound to port 0) it returns.
func (f *Fleet) startChild(ctx context.Context, name, bin, logName string, args, env []string, listening *regexp.Regexp) (*services.Process, string, error) {
	var addr string
	p, err := services.StartProcess(ctx, services.ProcessSpec{
		Name: name, Path: filepath.Join(f.opts.BinDir, bin), Args: args, Env: env,
		LogPath: filepath.Join(f.dir, logName+".log"),
		Ready: func(ctx context.Context, p *services.Process) error {
			m, err := p.WaitLine(ctx, listening)
			if m != nil {
				addr = m[1]
			}
			return err
		},
	})
	return p, addr, err
}

// Dir is the directory with the fleet's configs and logs.
func (f *Fleet) Dir() string { return f.dir }

// ConsulAddr is host:port of the Consul agent the fleet's parts talk to.
func (f *Fleet) ConsulAddr() string { return f.Consul.HTTPAddr }

// ConsulClient returns a client for the fleet's agent.
func (f *Fleet) ConsulClient() (*api.Client, error) {
	return api.NewClient(f.Consul.Config())
}

func (f *Fleet) startConsul(ctx context.Context) error {
	if f.opts.ConsulServers == 1 {
		c, err := services.StartConsul(ctx, services.ConsulOptions{NodeName: "ensemble-demo"})
		if err != nil {
			return err
		}
		f.Consul = c
		fmt.Fprintf(f.opts.Progress, "  consul dev agent on http://%s\n", c.HTTPAddr)
		return nil
	}
	cl, err := services.StartConsulCluster(ctx, f.opts.ConsulServers, services.ConsulOptions{NodeName: "ensemble-server"})
	if err != nil {
		return err
	}
	f.Cluster = cl
	leader, err := cl.Leader(ctx)
	if err != nil {
		return err
	}
	for _, s := range cl.Servers {
		if s != leader {
			f.Consul = s
			break
		}
	}
	fmt.Fprintf(f.opts.Progress, "  consul cluster of %d servers, leader %s, clients use %s\n",
		len(cl.Servers), leader.NodeName, f.Consul.NodeName)
	return nil
}

func (f *Fleet) startNodes(ctx context.Context) error {
	f.Nodes = make([]*Node, f.opts.Nodes)
	errs := make([]error, f.opts.Nodes)
	var wg sync.WaitGroup
	for i := range f.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.startNode(ctx, i+1)
			if err != nil {
				errs[i] = fmt.Errorf("node-%d: %w", i+1, err)
				return
			}
			f.Nodes[i] = n
			fmt.Fprintf(f.opts.Progress, "  %s: emulator %s, public %s\n", n.ID, n.EmulatorURL, n.PublicURL)
		}()
	}
	wg.Wait()
	// Stop needs no nil holes.
	kept := f.Nodes[:0]
	for _, n := range f.Nodes {
		if n != nil {
			kept = append(kept, n)
		}
	}
	f.Nodes = kept
	return errors.Join(errs...)
}

// Node returns the node with the given ID, or nil.
func (f *Fleet) Node(id string) *Node {
	for _, n := range f.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Passing returns the IDs of the nodes whose checks all pass in Consul, sorted.
func (f *Fleet) Passing(ctx context.Context) ([]string, error) {
	c, err := f.ConsulClient()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	entries, _, err := c.Health().Service(ServiceName, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul health %s: %w", ServiceName, err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	sort.Strings(ids)
	return ids, nil
}

// WaitPassing waits until at least n nodes pass their checks in Consul.
func (f *Fleet) WaitPassing(ctx context.Context, n int) error {
	return poll(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		ids, err := f.Passing(ctx)
		if err != nil {
			return err
		}
		if len(ids) < n {
			return fmt.Errorf("%d of %d nodes passing: %v", len(ids), n, ids)
		}
		return nil
	})
}

// Stop ends every part in reverse order of start and removes the fleet's
// temporary directory. It is safe to call more than once.
func (f *Fleet) Stop() {
	start := time.Now()
	if f.load != nil {
		f.load.stop()
		f.load = nil
	}
	var wg sync.WaitGroup
	for _, s := range f.Selectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.stop(); err != nil {
				f.opts.Logger.Warn("stop selector", "selector", s.Name, "err", err)
			}
		}()
	}
	wg.Wait()
	f.Selectors = nil
	for _, n := range f.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
	f.Nodes = nil
	f.stopPrometheus()
	if f.Cluster != nil {
		if err := f.Cluster.Close(); err != nil {
			f.opts.Logger.Warn("stop consul cluster", "err", err)
		}
		f.Cluster, f.Consul = nil, nil
	} else if f.Consul != nil {
		if err := f.Consul.Close(); err != nil {
			f.opts.Logger.Warn("stop consul", "err", err)
		}
		f.Consul = nil
	}
	if f.ownDir && f.dir != "" {
		if err := os.RemoveAll(f.dir); err != nil {
			f.opts.Logger.Warn("remove fleet dir", "dir", f.dir, "err", err)
		}
		f.dir = ""
	}
	fmt.Fprintf(f.opts.Progress, "fleet stopped in %.1fs\n", time.Since(start).Seconds())
}

// LogTails returns the last lines each part of the fleet wrote, by part, for
// test failure reports.
func (f *Fleet) LogTails() map[string]string {
	out := map[string]string{}
	for _, n := range f.Nodes {
		out[n.ID+" emulator"] = n.emu.Tail()
		if p := n.currentSidecar(); p != nil {
			out[n.ID+" sidecar"] = p.Tail()
		}
	}
	for _, s := range f.Selectors {
		out[s.Name] = s.current().Tail()
	}
	if f.Prometheus != nil {
		out["prometheus"] = lastLines(f.Prometheus.Log(), logTailLines)
	}
	if f.Consul != nil {
		out["consul"] = lastLines(f.Consul.Log(), logTailLines)
	}
	return out
}

// logTailLines matches the lines services.Process.Tail keeps.
const logTailLines = 20

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Proc is one running process of the fleet, for resource accounting.
type Proc struct {
	// Name says which part it is: "node-1 sidecar", "selector-2",
	// "consul ensemble-server-1", "prometheus".
	Name string
	// PID is its process ID, which is also its process group's.
	PID int
	// MetricsURL serves its Prometheus metrics (go_goroutines), or is empty.
	MetricsURL string
}

// Processes lists the fleet's running processes (not those stopped or
// killed at the moment).
func (f *Fleet) Processes() []Proc {
	var out []Proc
	add := func(name string, pid int, metrics string) {
		if pid > 0 {
			out = append(out, Proc{Name: name, PID: pid, MetricsURL: metrics})
		}
	}
	if f.Cluster != nil {
		for _, c := range f.Cluster.Servers {
			add("consul "+c.NodeName, c.PID(), "")
		}
	} else if f.Consul != nil {
		add("consul "+f.Consul.NodeName, f.Consul.PID(), "")
	}
	if f.Prometheus != nil {
		add("prometheus", f.Prometheus.PID(), f.Prometheus.URL+"/metrics")
	}
	for _, n := range f.Nodes {
		pids := n.PIDs()
		add(n.ID+" jvbemu", pids["jvbemu"], "")
		add(n.ID+" nginx", pids["nginx"], "")
		if p := n.currentSidecar(); p != nil && p.Running() {
			add(n.ID+" sidecar", p.PID(), n.SidecarURL()+"/metrics")
		}
	}
	for _, s := range f.Selectors {
		if p := s.current(); p.Running() {
			add(s.Name, p.PID(), s.URL+"/metrics")
		}
	}
	return out
}
