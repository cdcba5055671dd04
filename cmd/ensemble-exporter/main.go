// Command ensemble-exporter serves the Ensemble collectors (CPU, memory,
// network, nginx, JVB) on their own, without the sidecar's Consul duties.
package main

import (
	"context"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/builtin"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
)

const program = "ensemble_exporter"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	app := cli.New("ensemble-exporter", "Prometheus exporter for a Jitsi Meet node: CPU, memory, network, nginx and videobridge.", stdout, stderr)
	web := kingpinflag.AddFlags(app.Application, ":9105")
	app.Unsupported("web.systemd-socket")
	metricsPath := app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	var maxRequests int
	cli.IntAtLeastVar(app.Flag("web.max-requests", "Maximum concurrent scrapes (0 = no limit).").Default("10"), &maxRequests, 0)
	runtimeMetrics := app.Flag("web.exporter-metrics", "Also export the exporter's own go_* and process_* metrics (they cost more CPU per scrape than the collectors).").
		Default("false").Bool()
	app.MaxProcs(1, "Maximum OS threads running Go code at once; 1 keeps the exporter off the bridge's cores.")
	app.GCPercent(50, "Go GC target percentage (GOGC, which overrides it when set). The live heap is under 1 MiB, so 50 costs ~3 % CPU per scrape and saves ~2 MiB of RSS.")
	collectors := builtin.AddFlags(app.Application)

	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		exp, err := collectors.NewExporter(s.Logger)
		if err != nil {
			return err
		}
		var runtimeReg prometheus.Gatherer // nil unless asked for
		if *runtimeMetrics {
			runtimeReg = exporter.NewRuntimeRegistry()
		}
		return exporter.Run(ctx, exporter.RunOptions{
			Exporter:            exp,
			Extra:               exporter.NewProgramRegistry(program),
			Gatherer:            runtimeReg,
			Addresses:           *web.WebListenAddresses,
			WebConfigFile:       *web.WebConfigFile,
			MetricsPath:         *metricsPath,
			MaxRequestsInFlight: maxRequests,
			Version:             version.Info(),
			Logger:              s.Logger,
		})
	})
}
