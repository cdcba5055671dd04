package fleet

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// Selector is one ensemble-selector replica.
type Selector struct {
	// Name is selector-1, selector-2, ...
	Name string
	// URL is http://127.0.0.1:PORT, the same across Kill and Restart.
	URL string

	f    *Fleet
	args []string // without --web.listen-address

	mu   sync.Mutex
	proc *services.Process
}

func (f *Fleet) startSelectors(ctx context.Context) error {
	for i := 1; i <= f.opts.Selectors; i++ {
		s, err := f.startSelector(ctx, i)
		if err != nil {
			return err
		}
		f.Selectors = append(f.Selectors, s)
		fmt.Fprintf(f.opts.Progress, "  %s on %s\n", s.Name, s.URL)
	}
	return nil
}

func (f *Fleet) startSelector(ctx context.Context, i int) (*Selector, error) {
	t := f.opts.Timing
	s := &Selector{Name: fmt.Sprintf("selector-%d", i), f: f}
	args := []string{
		"--consul.service=" + ServiceName,
		"--prometheus.url=" + f.PrometheusURL(),
		"--prometheus.interval=" + t.PollInterval.String(),
		"--load.source=prometheus",
		"--load.max-age=" + t.LoadMaxAge.String(),
		"--selector.policy=" + f.opts.Policy,
		fmt.Sprintf("--selector.replicas=%d", f.opts.Selectors),
		"--rooms.store=consul",
		// Every emulated node registers through the lab's one Consul agent.
		"--nodes.insecure-unbound",
		"--catalog.max-staleness=" + t.MaxStaleness.String(),
		"--rooms.move-after=" + t.MoveAfter.String(),
		"--log.level=info",
	}
	if f.opts.LoadScore != "" {
		args = append(args, "--load.score="+f.opts.LoadScore)
	}
	s.args = args
	if err := s.start(ctx, "127.0.0.1:0", true); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs the selector on addr and waits until it is ready; if it is
// not, the selector is stopped when stopUnready is set, else left running.
func (s *Selector) start(ctx context.Context, addr string, stopUnready bool) error {
	args := append([]string{"--web.listen-address=" + addr}, s.args...)
	p, bound, err := s.f.startChild(ctx, s.Name, "ensemble-selector", s.Name, args,
		[]string{"CONSUL_HTTP_ADDR=" + s.f.ConsulAddr()}, slogListening)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc, s.URL = p, "http://"+bound
	s.mu.Unlock()
	if err := p.Poll(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		return call(ctx, http.MethodGet, s.URL+"/-/ready", nil, nil)
	}); err != nil {
		if stopUnready {
			_ = s.stop() // the readiness error says more
		}
		return err
	}
	return nil
}

func (s *Selector) current() *services.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

func (s *Selector) stop() error {
	return s.current().Stop(3*time.Second, syscall.SIGTERM)
}

// Kill ends the replica with SIGKILL, as a crash would.
func (s *Selector) Kill() error { return s.current().Kill() }

// Restart starts a killed replica again on the same address (load balancers
// and Prometheus's service discovery keep pointing at it) and waits until
// it is ready. A replica that does not become ready (Consul is down) keeps
// running, as under systemd, and the error says why.
func (s *Selector) Restart(ctx context.Context) error {
	if s.current().Running() {
		return fmt.Errorf("%s is still running", s.Name)
	}
	return s.start(ctx, strings.TrimPrefix(s.URL, "http://"), false)
}

// PID is the process ID of the replica's current process.
func (s *Selector) PID() int { return s.current().PID() }

// Placement is the selector's answer for a room.
type Placement struct {
	Room string `json:"room"`
	Node string `json:"node"`
	URL  string `json:"url"`
}

// Room asks the selector where room goes.
func (s *Selector) Room(ctx context.Context, room string) (Placement, error) {
	var p Placement
	err := call(ctx, http.MethodGet, s.URL+"/api/v1/rooms/"+room, nil, &p)
	return p, err
}
