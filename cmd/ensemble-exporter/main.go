// Command ensemble-exporter serves the Ensemble collectors (CPU, memory,
// network, nginx, JVB) on their own, without the sidecar's Consul duties.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/builtin"
	"github.com/ensemble-jitsi/ensemble/internal/flagdoc"
)

const program = "ensemble_exporter"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("ensemble-exporter", "Prometheus exporter for a Jitsi Meet node: CPU, memory, network, nginx and videobridge.").
		DefaultEnvars().UsageWriter(stdout).ErrorWriter(stderr)
	app.Version(version.Print("ensemble-exporter"))
	app.HelpFlag.Short('h')
	exited := false
	app.Terminate(func(int) { exited = true })

	web := kingpinflag.AddFlags(app, ":9105")
	metricsPath := app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	maxRequests := app.Flag("web.max-requests", "Maximum concurrent scrapes (0 = no limit).").Default("10").Int()
	runtimeMetrics := app.Flag("web.exporter-metrics", "Also export the exporter's own go_* and process_* metrics (they cost more CPU per scrape than the collectors).").
		Default("false").Bool()
	maxProcs := app.Flag("runtime.gomaxprocs", "Maximum OS threads running Go code at once; 1 keeps the exporter off the bridge's cores.").
		Default("1").Int()
	gcPercent := app.Flag("runtime.gc-percent", "Go GC target percentage (GOGC, which overrides it when set). The live heap is under 1 MiB, so 50 costs ~3 % CPU per scrape and saves ~2 MiB of RSS.").
		Default("50").Int()
	logConfig := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logConfig)
	collectors := builtin.AddFlags(app)
	// Accepted only to say it is not supported: not advertised.
	app.GetFlag("web.systemd-socket").Hidden()
	flagdoc.Register(app, os.Stdout, os.Exit, nil)

	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-exporter: %v\n", err)
		return 2
	}
	if exited { // --help or --version
		return 0
	}
	logger := promslog.New(logConfig)
	if *maxProcs > 0 {
		runtime.GOMAXPROCS(*maxProcs)
	}
	if _, set := os.LookupEnv("GOGC"); !set && *gcPercent > 0 {
		debug.SetGCPercent(*gcPercent)
	}
	if *web.WebSystemdSocket {
		logger.Error("--web.systemd-socket is not supported; use --web.listen-address")
		return 2
	}
	exp, err := collectors.NewExporter(logger)
	if err != nil {
		logger.Error("building collectors", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var runtimeReg prometheus.Gatherer // nil unless asked for
	if *runtimeMetrics {
		runtimeReg = exporter.NewRuntimeRegistry()
	}
	err = exporter.Run(ctx, exporter.RunOptions{
		Exporter:            exp,
		Extra:               exporter.NewProgramRegistry(program),
		Gatherer:            runtimeReg,
		Addresses:           *web.WebListenAddresses,
		WebConfigFile:       *web.WebConfigFile,
		MetricsPath:         *metricsPath,
		MaxRequestsInFlight: *maxRequests,
		Version:             version.Info(),
		Logger:              logger,
	})
	if err != nil {
		logger.Error("exporter stopped", "err", err)
		return 1
	}
	return 0
}
