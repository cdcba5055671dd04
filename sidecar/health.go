package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// Probe is one condition /health requires. Check must honour ctx: the health handler gives
// every probe a deadline shorter than the Consul check timeout.
type Probe interface {
	Name() string
	Check(ctx context.Context) error
}

// ProbeFunc turns a function into a Probe called name.
func ProbeFunc(name string, check func(ctx context.Context) error) Probe {
	return funcProbe{name: name, check: check}
}

type funcProbe struct {
	name  string
	check func(ctx context.Context) error
}

func (p funcProbe) Name() string                    { return p.name }
func (p funcProbe) Check(ctx context.Context) error { return p.check(ctx) }

var _ Probe = funcProbe{}

// CPUProbe fails while the share of busy CPU time since its previous check exceeds a threshold.
type CPUProbe struct {
	threshold float64
	// stat reads /proc/stat. A method value rather than a procfs.FS field: a struct field
	// would put procfs.FS in this type's descriptor, and because the binary reflects on
	// methods (kingpin's text/template) the linker would then keep every exported method
	// of procfs.FS, about 200 KB of parsers the sidecar never calls, mapped into memory.
	stat func() (procfs.Stat, error)

	mu    sync.Mutex
	prev  procfs.CPUStat
	ratio float64
	at    time.Time
}

var _ Probe = (*CPUProbe)(nil)

// NewCPUProbe reads /proc/stat under procRoot (usually "/proc").
func NewCPUProbe(procRoot string, threshold float64) (*CPUProbe, error) {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return nil, fmt.Errorf("cpu probe: %w", err)
	}
	st, err := fs.Stat()
	if err != nil {
		return nil, fmt.Errorf("cpu probe: %w", err)
	}
	return &CPUProbe{threshold: threshold, stat: fs.Stat, prev: st.CPUTotal, at: time.Now()}, nil
}

// Name implements Probe.
func (p *CPUProbe) Name() string { return "cpu" }

// Check implements Probe.
func (p *CPUProbe) Check(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Checks closer together than this would measure noise; reuse the last ratio.
	if time.Since(p.at) >= 500*time.Millisecond {
		st, err := p.stat()
		if err != nil {
			return fmt.Errorf("reading CPU times: %w", err)
		}
		busy := func(c procfs.CPUStat) (busy, total float64) {
			idle := c.Idle + c.Iowait
			total = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal + idle
			return total - idle, total
		}
		b1, t1 := busy(st.CPUTotal)
		b0, t0 := busy(p.prev)
		if t1 > t0 {
			p.ratio = (b1 - b0) / (t1 - t0)
		}
		p.prev, p.at = st.CPUTotal, time.Now()
	}
	if p.ratio > p.threshold {
		return fmt.Errorf("CPU busy %.2f above threshold %.2f", p.ratio, p.threshold)
	}
	return nil
}

// healthHandler serves /health: 200 when every probe passes, else 503 naming the failures; 429
// (a warning to Consul) while the node drains and every probe passes.
type healthHandler struct {
	probes  []Probe
	timeout time.Duration
	success *prometheus.GaugeVec
	// draining reports whether a drain is under way (nil: never). The node-level check the
	// selector trusts cannot carry Consul's service maintenance (anyone who may write the jitsi
	// service may write that on any node), so a drain reaches it as a warning.
	draining func() bool
}

type probeFailure struct {
	Probe string `json:"probe"`
	Error string `json:"error"`
}

type healthReport struct {
	Status   string         `json:"status"`
	Draining bool           `json:"draining,omitempty"`
	Failures []probeFailure `json:"failures,omitempty"`
	// shuttingDown is true when the only failures are the bridge's shutdown.
	shuttingDown bool
}

// maxErrorLen keeps the body short: the Consul check output stores it.
const maxErrorLen = 200

func (h *healthHandler) check(ctx context.Context) healthReport {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	errs := make([]error, len(h.probes))
	var wg sync.WaitGroup
	for i, p := range h.probes {
		wg.Go(func() {
			done := make(chan error, 1)
			// A probe that ignores ctx must not hold /health past the deadline.
			go func() { done <- p.Check(ctx) }()
			select {
			case errs[i] = <-done:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("no answer within %v: %w", h.timeout, ctx.Err())
			}
		})
	}
	wg.Wait()
	rep := healthReport{Status: "pass"}
	down := 0
	for i, p := range h.probes {
		ok := 1.0
		if errs[i] != nil {
			ok = 0
			msg := errs[i].Error()
			if len(msg) > maxErrorLen {
				msg = msg[:maxErrorLen] + "..."
			}
			rep.Status = "fail"
			if errors.Is(errs[i], errBridgeShuttingDown) {
				down++
			}
			rep.Failures = append(rep.Failures, probeFailure{Probe: p.Name(), Error: msg})
		}
		h.success.WithLabelValues(p.Name()).Set(ok)
	}
	rep.shuttingDown = down > 0 && down == len(rep.Failures)
	return rep
}

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := h.check(r.Context())
	rep.Draining = h.draining != nil && h.draining()
	code := http.StatusOK
	switch {
	case rep.shuttingDown, rep.Draining && rep.Status == "pass":
		code = http.StatusTooManyRequests // a warning to Consul: draining, not gone
	case rep.Status != "pass":
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rep)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
