// Command ensemble-demo runs a whole Ensemble fleet on this machine, on
// loopback, until Ctrl-C: a Consul agent, Prometheus, emulated Jitsi nodes
// (JVB emulator + nginx + sidecar each) and two selector replicas.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts := fleet.DefaultOptions()
	app := cli.New("ensemble-demo", "Run a whole Ensemble fleet on this machine until Ctrl-C.", stdout, stderr)
	app.Flag("nodes", fmt.Sprintf("Number of emulated Jitsi nodes: at most what half the available memory holds at about %d MiB RSS a node.", fleet.NodeRSS>>20)).Default("5").IntVar(&opts.Nodes)
	app.Flag("selector.policy", "Placement policy of the selectors: "+strings.Join(placement.Builtin().Names(), ", ")+".").
		Default(opts.Policy).EnumVar(&opts.Policy, placement.Builtin().Names()...)
	app.Flag("load", "Synthetic load: meetings started per second (0 = none).").Default("0.5").Float64Var(&opts.Load)
	app.Flag("bin-dir", "Directory with ensemble-jvbemu, ensemble-sidecar and ensemble-selector (default: next to this binary).").StringVar(&opts.BinDir)
	app.Flag("work-dir", "Keep configs and logs here instead of a temporary directory removed on exit.").StringVar(&opts.WorkDir)
	app.Flag("prometheus.config", "The shipped Prometheus configuration to adapt.").Default(opts.PrometheusConfig).StringVar(&opts.PrometheusConfig)

	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		if opts.BinDir == "" {
			exe, err := os.Executable()
			if err != nil {
				return cli.UsageError(fmt.Errorf("--bin-dir not given and own path unknown: %w", err))
			}
			opts.BinDir = filepath.Dir(exe)
		}
		opts.Logger = s.Logger
		opts.Progress = stdout
		return fleet.Run(ctx, opts)
	})
}
