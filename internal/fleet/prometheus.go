package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/services"
)

// promFront is a TCP forwarder on a fixed loopback address in front of the
// fleet's Prometheus. Prometheus picks a new port each time it starts, but
// the selectors were given one --prometheus.url; the front keeps that URL
// valid across StopPrometheus/StartPrometheus. While Prometheus is stopped
// the front closes its listener too, so clients see "connection refused"
// exactly as they would without it.
type promFront struct {
	addr string

	mu      sync.Mutex
	ln      net.Listener
	backend string
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func newPromFront() (*promFront, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("prometheus front: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, fmt.Errorf("prometheus front: %w", err)
	}
	return &promFront{addr: addr, conns: map[net.Conn]struct{}{}}, nil
}

// open starts forwarding to backend (host:port).
func (p *promFront) open(backend string) error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("prometheus front: %w", err)
	}
	p.mu.Lock()
	p.ln, p.backend = ln, backend
	p.mu.Unlock()
	p.wg.Add(1)
	go p.serve(ln, backend)
	return nil
}

func (p *promFront) serve(ln net.Listener, backend string) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			b, err := net.DialTimeout("tcp", backend, 2*time.Second)
			if err != nil {
				return
			}
			if !p.track(b) {
				b.Close()
				return
			}
			defer p.untrack(b)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
			<-done
		}()
	}
}

func (p *promFront) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *promFront) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// close stops listening and cuts every forwarded connection.
func (p *promFront) close() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// PrometheusURL is the stable URL of the fleet's Prometheus.
func (f *Fleet) PrometheusURL() string { return "http://" + f.front.addr }

func (f *Fleet) startPrometheus(ctx context.Context) error {
	// The selectors serve the Consul view Prometheus discovers targets from.
	sdHost := strings.TrimPrefix(f.Selectors[0].URL, "http://")
	conf, err := adaptPrometheusConfig(f.opts.PrometheusConfig, sdHost, f.opts.Timing)
	if err != nil {
		return err
	}
	p, err := services.StartPrometheus(ctx, services.PrometheusOptions{ConfigYAML: conf})
	if err != nil {
		return err
	}
	if err := f.front.open(p.URL[len("http://"):]); err != nil {
		_ = p.Stop()
		return err
	}
	f.Prometheus = p
	return nil
}

// StopPrometheus stops Prometheus (its data goes with it) and closes its URL.
func (f *Fleet) StopPrometheus() error {
	if f.Prometheus == nil {
		return errors.New("prometheus is not running")
	}
	f.front.close()
	err := f.Prometheus.Stop()
	f.Prometheus = nil
	return err
}

// StartPrometheus starts Prometheus again behind the same URL.
func (f *Fleet) StartPrometheus(ctx context.Context) error {
	if f.Prometheus != nil {
		return errors.New("prometheus is already running")
	}
	return f.startPrometheus(ctx)
}

func (f *Fleet) stopPrometheus() {
	if f.front != nil {
		f.front.close()
	}
	if f.Prometheus != nil {
		if err := f.Prometheus.Stop(); err != nil {
			f.opts.Logger.Warn("stop prometheus", "err", err)
		}
		f.Prometheus = nil
	}
}
