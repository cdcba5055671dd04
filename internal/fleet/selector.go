package fleet

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/services"
)

// Selector is one ensemble-selector replica.
type Selector struct {
	// Name is selector-1, selector-2, ...
	Name string
	// URL is http://127.0.0.1:PORT.
	URL string

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
	s := &Selector{Name: fmt.Sprintf("selector-%d", i)}
	args := []string{
		"--web.listen-address=127.0.0.1:0",
		"--consul.service=" + ServiceName,
		"--prometheus.url=" + f.PrometheusURL(),
		"--prometheus.interval=" + t.PollInterval.String(),
		"--load.source=prometheus",
		"--load.max-age=" + t.LoadMaxAge.String(),
		"--selector.policy=" + f.opts.Policy,
		fmt.Sprintf("--selector.replicas=%d", f.opts.Selectors),
		"--rooms.store=consul",
		"--catalog.max-staleness=" + t.MaxStaleness.String(),
		"--log.level=info",
	}
	if f.opts.LoadScore != "" {
		args = append(args, "--load.score="+f.opts.LoadScore)
	}
	p, addr, err := f.startChild(ctx, s.Name, "ensemble-selector", s.Name, args,
		[]string{"CONSUL_HTTP_ADDR=" + f.ConsulAddr()}, slogListening)
	if err != nil {
		return nil, err
	}
	s.proc, s.URL = p, "http://"+addr
	if err := p.Poll(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		return call(ctx, http.MethodGet, s.URL+"/-/ready", nil, nil)
	}); err != nil {
		_ = s.stop() // the readiness error says more
		return nil, err
	}
	return s, nil
}

func (s *Selector) stop() error {
	return s.proc.Stop(3*time.Second, syscall.SIGTERM)
}

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
