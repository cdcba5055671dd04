// Package fleet supervises a whole Ensemble fleet on one machine: a Consul
// agent (or a three-server cluster), Prometheus, N emulated Jitsi nodes (JVB
// emulator + nginx + sidecar each) and two selector replicas, all on
// 127.0.0.1 with free ports. The demo runs it until Ctrl-C; the end-to-end
// suite uses its handles to break parts on purpose.
package fleet

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Options configures a fleet. Field names mirror ensemble-demo's flags.
type Options struct {
	// Nodes is the number of emulated Jitsi nodes.
	Nodes int
	// Policy is the selectors' --selector.policy.
	Policy string
	// Load is the synthetic load in meetings started per second; 0 turns it off.
	Load float64
	// BinDir holds ensemble-jvbemu, ensemble-sidecar and ensemble-selector.
	BinDir string
	// WorkDir receives configs and logs; empty means a temporary directory
	// that Stop removes.
	WorkDir string
	// PrometheusConfig is the shipped deploy/prometheus/prometheus-http-sd.yml
	// (Debian's Prometheus has no Consul discovery; the selectors serve their
	// Consul view as HTTP SD); its rule files are read relative to it.
	PrometheusConfig string
	// LoadScore is the selectors' --load.score.
	LoadScore string
	// ConsulServers is 1 for a dev agent or 3 for a cluster of servers.
	ConsulServers int
	// Selectors is the number of selector replicas.
	Selectors int
	// Timing sets the intervals every part runs with.
	Timing Timing
	// Logger receives the supervisor's own events.
	Logger *slog.Logger
	// Progress receives one line per part as the fleet starts; nil discards.
	Progress io.Writer
}

// Timing holds the intervals that decide how fast a fault becomes visible.
type Timing struct {
	CheckInterval  time.Duration // sidecar --consul.check-interval
	CheckTimeout   time.Duration // sidecar --consul.check-timeout
	ResyncInterval time.Duration // sidecar --consul.resync-interval
	DrainTimeout   time.Duration // sidecar --drain.timeout
	DrainPoll      time.Duration // sidecar --drain.poll-interval
	ScrapeInterval time.Duration // Prometheus scrape and rule evaluation interval
	PollInterval   time.Duration // selector --prometheus.interval
	LoadMaxAge     time.Duration // selector --load.max-age
	MaxStaleness   time.Duration // selector --catalog.max-staleness
	MoveAfter      time.Duration // selector --rooms.move-after
}

// DemoTiming is brisk enough that the fleet table moves while a person watches.
func DemoTiming() Timing {
	return Timing{
		CheckInterval:  2 * time.Second,
		CheckTimeout:   time.Second,
		ResyncInterval: 10 * time.Second,
		DrainTimeout:   2 * time.Minute,
		DrainPoll:      2 * time.Second,
		ScrapeInterval: 2 * time.Second,
		PollInterval:   2 * time.Second,
		LoadMaxAge:     15 * time.Second,
		MaxStaleness:   60 * time.Second,
		MoveAfter:      selector.DefaultRoomsMoveAfter,
	}
}

// SharedMachineLoadScore is the load score of a fleet whose nodes share one
// machine. Their CPU busy ratios are all the machine's (and on a busy
// machine all above the high-water mark), so the fleet measures each node by
// its emulated videobridge's stress level alone. A real fleet keeps the
// selector's default, the larger of CPU and stress.
const SharedMachineLoadScore = "stress"

// DefaultOptions returns the demo's defaults.
func DefaultOptions() Options {
	return Options{
		Nodes:            5,
		Policy:           placement.DefaultPolicy,
		Load:             0.5,
		PrometheusConfig: "deploy/prometheus/prometheus-http-sd.yml",
		LoadScore:        SharedMachineLoadScore,
		ConsulServers:    1,
		Selectors:        2,
		Timing:           DemoTiming(),
	}
}

func (o *Options) validate() error {
	var errs []error
	if o.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes must be at least 1, got %d", o.Nodes))
	}
	if o.Load < 0 {
		errs = append(errs, fmt.Errorf("load must not be negative, got %g", o.Load))
	}
	if o.ConsulServers != 1 && o.ConsulServers != 3 {
		errs = append(errs, fmt.Errorf("consul servers must be 1 or 3, got %d", o.ConsulServers))
	}
	if o.Selectors < 1 {
		errs = append(errs, fmt.Errorf("selectors must be at least 1, got %d", o.Selectors))
	}
	if o.BinDir == "" {
		errs = append(errs, errors.New("bin dir is required"))
	}
	if o.PrometheusConfig == "" {
		errs = append(errs, errors.New("prometheus config is required"))
	}
	t := o.Timing
	for name, d := range map[string]time.Duration{
		"check interval": t.CheckInterval, "check timeout": t.CheckTimeout, "resync interval": t.ResyncInterval,
		"drain timeout": t.DrainTimeout, "drain poll": t.DrainPoll, "scrape interval": t.ScrapeInterval, "poll interval": t.PollInterval,
		"load max age": t.LoadMaxAge, "max staleness": t.MaxStaleness, "move after": t.MoveAfter,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return errors.Join(errs...)
}
