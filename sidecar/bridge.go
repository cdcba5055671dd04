package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ensemble-jitsi/ensemble/exporter/jvb"
	"github.com/ensemble-jitsi/ensemble/exporter/nginx"
)

// jvbBridge adapts the exporter's JVB client to videobridge.
type jvbBridge struct{ c *jvb.Client }

var _ videobridge = jvbBridge{}

func (b jvbBridge) Load(ctx context.Context) (int, int, error) {
	s, err := b.c.Stats(ctx)
	if err != nil {
		return 0, 0, err
	}
	conf, ok1 := s.Number("conferences")
	part, ok2 := s.Number("participants")
	if !ok1 || !ok2 {
		return 0, 0, errors.New("colibri stats lack conferences or participants")
	}
	return int(conf), int(part), nil
}

func (b jvbBridge) GracefulShutdown(ctx context.Context) error { return b.c.GracefulShutdown(ctx) }

func (b jvbBridge) Drain(ctx context.Context, enable bool) error { return b.c.Drain(ctx, enable) }

func (b jvbBridge) ShuttingDown(ctx context.Context) (bool, error) {
	s, err := b.c.Stats(ctx)
	if err != nil {
		return false, err
	}
	graceful, _ := s.Bool("graceful_shutdown")
	down, _ := s.Bool("shutting_down")
	return graceful || down, nil
}

// errBridgeShuttingDown marks the health failure of a bridge that shuts down: /health answers
// 429 for it, which Consul records as a warning and the selector as draining, so the meetings
// still on the bridge stay bound to it while new ones go elsewhere.
var errBridgeShuttingDown = errors.New("the bridge is shutting down (graceful_shutdown or shutting_down)")

// shutdownProbe fails while the bridge reports a graceful shutdown. Stats it cannot read do not
// fail it: the jvb probe judges the bridge's health, this one only spots a shutdown.
func shutdownProbe(b videobridge) Probe {
	return ProbeFunc("jvb-shutdown", func(ctx context.Context) error {
		if down, err := b.ShuttingDown(ctx); err == nil && down {
			return errBridgeShuttingDown
		}
		return nil
	})
}

// buildProbes returns the probes Options asks for: the bridge's /about/health, nginx
// stub_status answering, a prosody BOSH session, jicofo's /about/health, and the CPU threshold.
func buildProbes(o *Options, jc *jvb.Client, hc *http.Client) ([]Probe, error) {
	if o.Probes != nil {
		return o.Probes, nil
	}
	var probes []Probe
	if jc != nil && o.HealthJVB {
		probes = append(probes, ProbeFunc("jvb", jc.Health), shutdownProbe(jvbBridge{c: jc}))
	}
	if o.CollectorNginxScrapeURI != "" && o.HealthNginx {
		c := nginx.NewClient(o.CollectorNginxScrapeURI, hc)
		probes = append(probes, ProbeFunc("nginx", func(ctx context.Context) error {
			_, err := c.StubStatus(ctx)
			return err
		}))
	}
	if o.HealthProsody {
		probes = append(probes, NewProsodyProbe(o.HealthProsodyURL, o.HealthProsodyDomain, hc))
	}
	if o.HealthJicofo {
		probes = append(probes, jicofoProbe(o.HealthJicofoURL, hc))
	}
	if o.HealthCPUThreshold > 0 {
		p, err := NewCPUProbe("/proc", o.HealthCPUThreshold)
		if err != nil {
			return nil, fmt.Errorf("health probes: %w", err)
		}
		probes = append(probes, p)
	}
	return probes, nil
}
