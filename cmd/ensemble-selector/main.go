// Command ensemble-selector tells each meeting which Jitsi node hosts it: it watches the fleet in Consul,
// reads load from Prometheus (or the sidecars), and answers room lookups, redirects and a web page.
// It only turns flags, environment variables and signals into selector.Run.
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/internal/flagdoc"
	"github.com/ensemble-jitsi/ensemble/selector"
	"github.com/ensemble-jitsi/ensemble/selector/load"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	opts := selector.DefaultOptions()
	app := kingpin.New("ensemble-selector", "Send each meeting to the best healthy Jitsi node.").DefaultEnvars()
	app.Version(version.Print("ensemble-selector"))
	webFlags := kingpinflag.AddFlags(app, opts.ListenAddresses[0])
	app.Flag("consul.service", "Consul service of the Jitsi nodes (address from CONSUL_HTTP_ADDR).").
		Default(opts.ConsulService).StringVar(&opts.ConsulService)
	app.Flag("catalog.max-staleness", "Serve the last catalog this long while Consul does not answer; then refuse rooms and report not ready.").
		Default(opts.CatalogMaxStaleness.String()).DurationVar(&opts.CatalogMaxStaleness)
	app.Flag("load.source", "Where node load comes from: prometheus or direct (scrape each sidecar).").
		Default(opts.LoadSource).EnumVar(&opts.LoadSource, "prometheus", "direct")
	app.Flag("load.max-age", "Load data older than this is unknown.").
		Default(opts.Placement.MaxAge.String()).DurationVar(&opts.Placement.MaxAge)
	app.Flag("load.score", "What placement compares: max (the more constrained of the CPU busy ratio and the videobridge stress level), cpu or stress.").
		Default(opts.LoadScore).EnumVar(&opts.LoadScore, load.ScoreNames()...)
	app.Flag("load.timeout", "Deadline of one read of the load source.").
		Default(opts.LoadTimeout.String()).DurationVar(&opts.LoadTimeout)
	app.Flag("prometheus.url", "Prometheus server of the prometheus load source.").
		Default(opts.PrometheusURL).StringVar(&opts.PrometheusURL)
	app.Flag("prometheus.interval", "How often load is read (both sources).").
		Default(opts.PrometheusInterval.String()).DurationVar(&opts.PrometheusInterval)
	app.Flag("prometheus.query.cpu", "PromQL giving each node's CPU busy ratio, labelled node.").
		Default(opts.Queries.CPU).StringVar(&opts.Queries.CPU)
	app.Flag("prometheus.query.stress", "PromQL giving each node's videobridge stress level, labelled node.").
		Default(opts.Queries.Stress).StringVar(&opts.Queries.Stress)
	app.Flag("prometheus.query.endpoints", "PromQL giving each node's videobridge endpoints, labelled node.").
		Default(opts.Queries.Endpoints).StringVar(&opts.Queries.Endpoints)
	app.Flag("prometheus.query.age", "PromQL giving the age in seconds of each node's data, labelled node.").
		Default(opts.Queries.Age).StringVar(&opts.Queries.Age)
	app.Flag("selector.policy", "Placement policy: most-free-cpu, least-loaded, p2c, bounded-hash or random.").
		Default(opts.Policy).EnumVar(&opts.Policy, "most-free-cpu", "least-loaded", "p2c", "bounded-hash", "random")
	app.Flag("selector.high-water", "Corrected score at which a node takes no new rooms while others are below it.").
		Default(fmt.Sprint(opts.Placement.HighWater)).Float64Var(&opts.Placement.HighWater)
	app.Flag("selector.pending-window", "How long a new room counts in its node's pending account.").
		Default(opts.Placement.Window.String()).DurationVar(&opts.Placement.Window)
	app.Flag("selector.room-cost", "CPUs one new room is expected to use (the pending correction).").
		Default(fmt.Sprint(opts.Placement.Cost)).Float64Var(&opts.Placement.Cost)
	app.Flag("selector.hash-epsilon", "bounded-hash slack: a node takes rooms by hash up to (1+epsilon) x the mean load.").
		Default(fmt.Sprint(opts.Placement.Epsilon)).Float64Var(&opts.Placement.Epsilon)
	app.Flag("rooms.store", "Room bindings: memory (one replica), consul (KV, several replicas) or none (bounded-hash only).").
		Default(opts.RoomsStore).EnumVar(&opts.RoomsStore, selector.StoreMemory, selector.StoreConsul, selector.StoreNone)
	app.Flag("rooms.ttl", "A room binding expires after this long without a lookup. Keep it longer than the longest meeting: lookups happen only when people join, so a shorter TTL can expire a running meeting's binding and send a late joiner to another node.").
		Default(opts.RoomsTTL.String()).DurationVar(&opts.RoomsTTL)
	app.Flag("rooms.consul-prefix", "Consul KV folder of the room bindings.").
		Default(opts.RoomsPrefix).StringVar(&opts.RoomsPrefix)
	app.Flag("web.read-header-timeout", "Time a client may take to send request headers.").
		Default(opts.ReadHeaderTimeout.String()).DurationVar(&opts.ReadHeaderTimeout)
	app.Flag("web.read-timeout", "Time a client may take to send a whole request.").
		Default(opts.ReadTimeout.String()).DurationVar(&opts.ReadTimeout)
	app.Flag("web.write-timeout", "Time to write a response.").
		Default(opts.WriteTimeout.String()).DurationVar(&opts.WriteTimeout)
	app.Flag("web.idle-timeout", "Time an idle keep-alive connection stays open.").
		Default(opts.IdleTimeout.String()).DurationVar(&opts.IdleTimeout)
	logCfg := &promslog.Config{}
	promslogflag.AddFlags(app, logCfg)
	// Accepted only to say it is not supported: not advertised.
	app.GetFlag("web.systemd-socket").Hidden()
	flagdoc.Register(app, os.Stdout, os.Exit, nil)
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-selector: %v\n", err)
		return 2
	}
	if *webFlags.WebSystemdSocket {
		fmt.Fprintln(stderr, "ensemble-selector: --web.systemd-socket is not supported")
		return 2
	}
	opts.ListenAddresses = *webFlags.WebListenAddresses
	opts.WebConfigFile = *webFlags.WebConfigFile
	logCfg.Writer = stderr
	opts.Logger = promslog.New(logCfg)
	// Set with -ldflags "-X github.com/prometheus/common/version.Version=..." (make build).
	opts.Version = cmp.Or(version.Version, "devel")
	opts.Now = time.Now

	consul, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		fmt.Fprintf(stderr, "ensemble-selector: consul client: %v\n", err)
		return 2
	}
	opts.Consul = consul
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Registry = reg

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := selector.Run(ctx, opts); err != nil {
		opts.Logger.Error("selector stopped", "err", err)
		return 1
	}
	return 0
}
