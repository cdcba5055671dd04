package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// Node is one emulated Jitsi server: a JVB emulator, a real nginx with
// stub_status (whose URL is the node's public URL, so nodes are told apart
// in the browser) and a sidecar registered in Consul.
type Node struct {
	// ID is the Consul service ID, node-1, node-2, ...
	ID string
	// EmulatorURL is the JVB emulator's base URL (private REST + /emulator/).
	EmulatorURL string
	// PublicURL is what the selector sends users to.
	PublicURL string

	f     *Fleet
	nginx *services.Nginx
	emu   *services.Process

	mu         sync.Mutex
	sidecar    *services.Process
	starts     int
	sidecarURL string // http://ADDR of the current sidecar
	controlURL string // http://ADDR of its control listener (POST /drain, /undrain)
}

var (
	emulatorListening = regexp.MustCompile(`listening on (http://\S+)`)
	// promslog writes logfmt: msg=listening address=127.0.0.1:PORT
	slogListening = regexp.MustCompile(`msg="?listening"?.*\baddress="?([^"\s]+)`)
	// The sidecar's control listener: msg="control listening" address=127.0.0.1:PORT
	controlListening = regexp.MustCompile(`msg="control listening".*\baddress="?([^"\s]+)`)
)

func (f *Fleet) startNode(ctx context.Context, i int) (*Node, error) {
	n := &Node{ID: fmt.Sprintf("node-%d", i), f: f}
	var (
		url string
		err error
	)
	n.emu, url, err = f.startChild(ctx, n.ID+" emulator", "ensemble-jvbemu", n.ID+"-jvbemu",
		[]string{"--web.listen-address=127.0.0.1:0"}, nil, emulatorListening)
	if err != nil {
		return nil, err
	}
	n.EmulatorURL = strings.TrimRight(url, "/")

	// The https port is drawn here, not by StartNginx, which redraws only its own port when
	// another process took it first: with many nodes starting at once, draw again too.
	var tlsPort int
	for attempt := 1; ; attempt++ {
		if tlsPort, err = services.FreePort(); err != nil {
			n.stop()
			return nil, err
		}
		n.nginx, err = services.StartNginx(ctx, services.NginxOptions{ExtraHTTPConf: publicServer(n.ID, tlsPort, f.cert, f.key)})
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
			n.stop()
			return nil, fmt.Errorf("%s nginx: %w", n.ID, err)
		}
	}
	n.PublicURL = fmt.Sprintf("https://%s.localhost:%d", n.ID, tlsPort)
	if err := n.StartSidecar(ctx); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// publicServer is the node's https server: it answers every path with a page
// naming the node, so the selector's redirect visibly lands on one node or
// another.
func publicServer(id string, port int, cert, key string) string {
	return fmt.Sprintf(`  server {
    listen 127.0.0.1:%[2]d ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    location / {
      default_type text/html;
      return 200 '<!doctype html><title>%[1]s</title><h1>%[1]s</h1><p>An emulated Jitsi Meet node of the Ensemble demo. Your meeting would run here.</p>\n';
    }
  }`, id, port, cert, key)
}

// StartSidecar starts the node's sidecar (again, after KillSidecar or a
// finished drain) and waits until it listens. Registration in Consul is
// checked by the caller through Fleet.WaitPassing.
func (n *Node) StartSidecar(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sidecar != nil && n.sidecar.Running() {
		return fmt.Errorf("%s: sidecar is already running", n.ID)
	}
	t := n.f.opts.Timing
	n.starts++
	args := []string{
		"--web.listen-address=127.0.0.1:0",
		"--web.control-address=127.0.0.1:0",
		"--consul.service-id=" + n.ID,
		"--consul.check-interval=" + t.CheckInterval.String(),
		"--consul.check-timeout=" + t.CheckTimeout.String(),
		"--consul.resync-interval=" + t.ResyncInterval.String(),
		"--consul.deregister-after=1m",
		"--node.public-url=" + n.PublicURL,
		"--node.address=127.0.0.1",
		"--node.region=demo",
		"--collector.jvb.url=" + n.EmulatorURL,
		// The bridge's own /metrics: everything /colibri/stats has plus the
		// conference distributions the fleet dashboard shows.
		"--collector.jvb.source=metrics",
		"--collector.nginx.scrape-uri=" + n.nginx.StubStatusURL,
		"--drain.timeout=" + t.DrainTimeout.String(),
		"--drain.poll-interval=" + t.DrainPoll.String(),
		"--log.level=info",
		// go_goroutines, which the soak holds to a bound (internal/lab/soak).
		"--web.exporter-metrics",
	}
	p, addr, err := n.f.startChild(ctx, n.ID+" sidecar", "ensemble-sidecar", fmt.Sprintf("%s-sidecar-%d", n.ID, n.starts),
		args, []string{"CONSUL_HTTP_ADDR=" + n.f.ConsulAddr()}, slogListening)
	if err != nil {
		return err
	}
	m, err := p.WaitLine(ctx, controlListening)
	if err != nil {
		_ = p.Kill()
		return fmt.Errorf("%s sidecar control listener: %w", n.ID, err)
	}
	n.sidecar = p
	n.sidecarURL = "http://" + addr
	n.controlURL = "http://" + m[1]
	return nil
}

// KillSidecar sends SIGKILL to the sidecar, as a crash would: it cannot
// deregister, so only the Consul health check notices.
func (n *Node) KillSidecar() error {
	p := n.currentSidecar()
	if p == nil {
		return fmt.Errorf("%s: no sidecar", n.ID)
	}
	return p.Kill()
}

// DrainSidecar sends SIGTERM to the sidecar, which drains the node: no new
// rooms, deregistration once its meetings have ended.
func (n *Node) DrainSidecar() error {
	p := n.currentSidecar()
	if p == nil {
		return fmt.Errorf("%s: no sidecar", n.ID)
	}
	return p.Signal(syscall.SIGTERM)
}

// SidecarDone is closed when the current sidecar process has exited.
func (n *Node) SidecarDone() <-chan struct{} {
	if p := n.currentSidecar(); p != nil {
		return p.Done()
	}
	c := make(chan struct{})
	close(c)
	return c
}

// SidecarURL is the base URL of the current sidecar (/metrics, /health, /drain).
func (n *Node) SidecarURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sidecarURL
}

// Drain asks the sidecar to drain the node through its API (POST /drain),
// without stopping the sidecar.
func (n *Node) Drain(ctx context.Context) error {
	return call(ctx, http.MethodPost, n.ControlURL()+"/drain", map[string]string{"reason": "fleet"}, nil)
}

// Undrain returns a drained node to service (POST /undrain).
func (n *Node) Undrain(ctx context.Context) error {
	return call(ctx, http.MethodPost, n.ControlURL()+"/undrain", map[string]string{}, nil)
}

// ControlURL is the base URL of the current sidecar's control listener.
func (n *Node) ControlURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.controlURL
}

func (n *Node) currentSidecar() *services.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sidecar
}

// SetFault sets the emulator's fault mode: "none", "hang", "slow", "error500",
// "garbage", "huge" or "rest-disabled" (see internal/lab/jvbemu).
func (n *Node) SetFault(ctx context.Context, fault string) error {
	return call(ctx, http.MethodPost, n.EmulatorURL+"/emulator/fault", map[string]string{"fault": fault}, nil)
}

// SetStress overrides the emulator's stress level; a negative value returns
// to the computed one.
func (n *Node) SetStress(ctx context.Context, stress float64) error {
	return call(ctx, http.MethodPost, n.EmulatorURL+"/emulator/stress", map[string]float64{"stress": stress}, nil)
}

// StartConference starts a meeting of size participants on the emulator.
func (n *Node) StartConference(ctx context.Context, size int) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := call(ctx, http.MethodPost, n.EmulatorURL+"/emulator/conferences", map[string]int{"size": size}, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("%s: emulator returned no conference id", n.ID)
	}
	return out.ID, nil
}

// EndConference ends a meeting started with StartConference.
func (n *Node) EndConference(ctx context.Context, id string) error {
	return call(ctx, http.MethodDelete, n.EmulatorURL+"/emulator/conferences/"+id, nil, nil)
}

// stop ends the sidecar (skipping the drain wait with a second SIGTERM),
// then the emulator and nginx.
func (n *Node) stop() {
	if sc := n.currentSidecar(); sc != nil {
		if err := sc.Stop(500*time.Millisecond, syscall.SIGTERM, syscall.SIGTERM); err != nil {
			n.f.opts.Logger.Warn("stop sidecar", "node", n.ID, "err", err)
		}
	}
	if n.emu != nil {
		if err := n.emu.Stop(2*time.Second, syscall.SIGTERM); err != nil {
			n.f.opts.Logger.Warn("stop emulator", "node", n.ID, "err", err)
		}
	}
	if n.nginx != nil {
		if err := n.nginx.Stop(); err != nil {
			n.f.opts.Logger.Warn("stop nginx", "node", n.ID, "err", err)
		}
	}
}

// StopNginx stops the node's nginx (stub_status and the public https
// server) and keeps its ports for StartNginx.
func (n *Node) StopNginx() error { return n.nginx.Halt() }

// StartNginx starts the node's nginx again after StopNginx.
func (n *Node) StartNginx(ctx context.Context) error { return n.nginx.Restart(ctx) }

// Partition cuts the node off (on) or reconnects it: it stops (SIGSTOP) or
// continues (SIGCONT) the node's emulator, nginx and sidecar. Their sockets
// stay open, so every caller (Consul's check, Prometheus, users) connects
// and then gets no answer until its own timeout, as behind a firewall that
// drops packets. Unlike a real partition the node's own outgoing calls stop
// too; the node is frozen, not just unreachable.
func (n *Node) Partition(on bool) error {
	sig := syscall.SIGCONT
	if on {
		sig = syscall.SIGSTOP
	}
	var errs []error
	if p := n.currentSidecar(); p != nil {
		errs = append(errs, p.Signal(sig))
	}
	errs = append(errs, n.emu.Signal(sig), n.nginx.Signal(sig))
	return errors.Join(errs...)
}

// PIDs returns the process IDs of the node's emulator, nginx master and
// current sidecar, by part.
func (n *Node) PIDs() map[string]int {
	return map[string]int{"jvbemu": n.emu.PID(), "nginx": n.nginx.PID(), "sidecar": n.SidecarPID()}
}

// SidecarPID is the process ID of the current sidecar, for the demo's
// "kill this" hints.
func (n *Node) SidecarPID() int {
	if p := n.currentSidecar(); p != nil {
		return p.PID()
	}
	return 0
}
