// Command ensemble-demo runs a whole Ensemble fleet on this machine, on
// loopback, until Ctrl-C: a Consul agent, Prometheus, emulated Jitsi nodes
// (JVB emulator + nginx + sidecar each) and two selector replicas.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts := fleet.DefaultOptions()
	app := kingpin.New("ensemble-demo", "Run a whole Ensemble fleet on this machine until Ctrl-C.").DefaultEnvars()
	app.Flag("nodes", "Number of emulated Jitsi nodes.").Default("5").IntVar(&opts.Nodes)
	app.Flag("selector.policy", "Placement policy of the selectors: "+strings.Join(placement.Builtin().Names(), ", ")+".").
		Default(opts.Policy).EnumVar(&opts.Policy, placement.Builtin().Names()...)
	app.Flag("load", "Synthetic load: meetings started per second (0 = none).").Default("0.5").Float64Var(&opts.Load)
	binDir := app.Flag("bin-dir", "Directory with ensemble-jvbemu, ensemble-sidecar and ensemble-selector (default: next to this binary).").String()
	app.Flag("work-dir", "Keep configs and logs here instead of a temporary directory removed on exit.").StringVar(&opts.WorkDir)
	app.Flag("prometheus.config", "The shipped Prometheus configuration to adapt.").Default(opts.PrometheusConfig).StringVar(&opts.PrometheusConfig)
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-demo: %v\n", err)
		return 2
	}
	opts.BinDir = *binDir
	if opts.BinDir == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "ensemble-demo: --bin-dir not given and own path unknown: %v\n", err)
			return 2
		}
		opts.BinDir = filepath.Dir(exe)
	}
	logCfg.Writer = stderr
	opts.Logger = promslog.New(logCfg)
	opts.Progress = stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fleet.Run(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "ensemble-demo: %v\n", err)
		return 1
	}
	return 0
}
