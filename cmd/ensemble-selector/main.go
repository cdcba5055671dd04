// Command ensemble-selector tells each meeting which Jitsi node hosts it: it watches the fleet in Consul,
// reads load from Prometheus (or the sidecars), and answers room lookups, redirects and a web page.
// It only turns flags, environment variables and signals into selector.Run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/selector"
	"github.com/ensemble-jitsi/ensemble/selector/load"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts := selector.DefaultOptions()
	app := cli.New("ensemble-selector", "Send each meeting to the best healthy Jitsi node.", stdout, stderr)
	webFlags := kingpinflag.AddFlags(app.Application, opts.ListenAddresses[0])
	app.Unsupported("web.systemd-socket")
	app.Flag("consul.service", "Consul service of the Jitsi nodes (address from CONSUL_HTTP_ADDR).").
		Default(opts.ConsulService).StringVar(&opts.ConsulService)
	app.Flag("nodes.allowed-domains", "Domain of node public URLs (repeatable or comma-separated; required): a node's URL must be https://<its Consul node name>.<domain>.").
		StringsVar(&opts.NodesAllowedDomains)
	app.Flag("nodes.insecure-unbound", "Labs only: use any service ID and any public URL (under --nodes.allowed-domains if given); any token that may register the Jitsi service can then take other nodes' rooms.").
		BoolVar(&opts.NodesUnbound)
	cli.PositiveDurationVar(app.Flag("catalog.max-staleness", "Serve the last catalog this long while Consul does not answer; then refuse rooms and report not ready.").
		Default(opts.CatalogMaxStaleness.String()), &opts.CatalogMaxStaleness)
	app.Flag("load.source", "Where node load comes from: "+strings.Join(load.Builtin().Names(), ", ")+" (prometheus: the recording rules; direct: scrape each sidecar).").
		Default(opts.LoadSource).EnumVar(&opts.LoadSource, load.Builtin().Names()...)
	app.Flag("load.max-age", "Load data older than this is unknown.").
		Default(opts.Placement.MaxAge.String()).DurationVar(&opts.Placement.MaxAge)
	app.Flag("load.score", "What placement compares: max (the more constrained of the CPU busy ratio and the videobridge stress level), cpu or stress.").
		Default(opts.LoadScore).EnumVar(&opts.LoadScore, load.ScoreNames()...)
	cli.PositiveDurationVar(app.Flag("load.timeout", "Deadline of one read of the load source.").
		Default(opts.LoadTimeout.String()), &opts.LoadTimeout)
	app.Flag("load.direct.scheme", "How the direct source reaches each sidecar's /metrics: http or https.").
		Default(opts.LoadDirectScheme).EnumVar(&opts.LoadDirectScheme, "http", "https")
	app.Flag("load.direct.ca-file", "PEM roots the direct source trusts for https sidecars (default: the system's).").
		StringVar(&opts.LoadDirectCAFile)
	app.Flag("load.direct.basic-auth-user", "User the direct source authenticates as (sidecar web config with basic auth).").
		StringVar(&opts.LoadDirectBasicAuthUser)
	app.Flag("load.direct.basic-auth-password-file", "File with that user's password.").
		StringVar(&opts.LoadDirectBasicAuthPasswordFile)
	app.Flag("prometheus.url", "Prometheus server of the prometheus load source.").
		Default(opts.PrometheusURL).StringVar(&opts.PrometheusURL)
	cli.PositiveDurationVar(app.Flag("prometheus.interval", "How often load is read (both sources).").
		Default(opts.PrometheusInterval.String()), &opts.PrometheusInterval)
	app.Flag("prometheus.query.cpu", "PromQL giving each node's CPU busy ratio, labelled node.").
		Default(opts.Queries.CPU).StringVar(&opts.Queries.CPU)
	app.Flag("prometheus.query.stress", "PromQL giving each node's videobridge stress level, labelled node.").
		Default(opts.Queries.Stress).StringVar(&opts.Queries.Stress)
	app.Flag("prometheus.query.endpoints", "PromQL giving each node's videobridge endpoints, labelled node.").
		Default(opts.Queries.Endpoints).StringVar(&opts.Queries.Endpoints)
	app.Flag("prometheus.query.age", "PromQL giving the age in seconds of each node's data, labelled node.").
		Default(opts.Queries.Age).StringVar(&opts.Queries.Age)
	app.Flag("selector.policy", "Placement policy: "+strings.Join(placement.Builtin().Names(), ", ")+" (docs/placement.md).").
		Default(opts.Policy).EnumVar(&opts.Policy, placement.Builtin().Names()...)
	app.Flag("selector.high-water", "Corrected score at which a node takes no new rooms while others are below it.").
		Default(fmt.Sprint(opts.Placement.HighWater)).Float64Var(&opts.Placement.HighWater)
	app.Flag("selector.pending-window", "How long a new room counts in its node's pending account.").
		Default(opts.Placement.Window.String()).DurationVar(&opts.Placement.Window)
	app.Flag("selector.room-cost", "CPUs one new room is expected to add beyond its participants (pending correction).").
		Default(fmt.Sprint(opts.Placement.Cost)).Float64Var(&opts.Placement.Cost)
	app.Flag("selector.join-cost", "CPUs one participant sent to a node is expected to add (pending correction, every join).").
		Default(fmt.Sprint(opts.Placement.JoinCost)).Float64Var(&opts.Placement.JoinCost)
	app.Flag("selector.choices", "Random nodes best-of-d compares.").
		Default(fmt.Sprint(opts.Placement.Choices)).IntVar(&opts.Placement.Choices)
	app.Flag("selector.replicas", "Selector replicas behind the load balancer: each scales its pending counts by this to estimate everyone's.").
		Default(fmt.Sprint(opts.Placement.Replicas)).IntVar(&opts.Placement.Replicas)
	app.Flag("selector.replica", "This replica's position, 1 to --selector.replicas, different on each (0: not told): new rooms go to its own share of the nodes first, so replicas do not give the same node a room each.").
		Default(fmt.Sprint(opts.Placement.Replica)).IntVar(&opts.Placement.Replica)
	app.Flag("selector.region-header", "Request header the load balancer sets to the user's region (new rooms prefer nodes of that region); empty: only ?region= sets it.").
		Default(opts.RegionHeader).StringVar(&opts.RegionHeader)
	neighbours := app.Flag("selector.region-neighbours", "Where a new room may go when its region is saturated, nearest first: home=near,far (repeatable, one per region).").Strings()
	app.Flag("fleet.headroom", "Share of the high-water mark kept free when sizing the fleet (ensemble_fleet_desired_nodes).").
		Default(fmt.Sprint(opts.CapacityHeadroom)).Float64Var(&opts.CapacityHeadroom)
	app.Flag("fleet.history-days", "Anticipate: ensemble_fleet_desired_nodes also covers the most demand (ensemble_fleet_demand_cpus in the --prometheus.url Prometheus, whatever the load source) any of this many previous days had over the next --fleet.lead at this time of day; Prometheus must keep that many days (0: the load at hand only).").
		Default(fmt.Sprint(opts.FleetHistoryDays)).IntVar(&opts.FleetHistoryDays)
	cli.PositiveDurationVar(app.Flag("fleet.lead", "How far ahead the history is read (--fleet.history-days): node boot time plus the scaler's delay and a margin.").
		Default(opts.FleetLead.String()), &opts.FleetLead)
	cli.PositiveDurationVar(app.Flag("fleet.history-interval", "How often the history is read (at most half of --fleet.lead).").
		Default(opts.FleetHistoryInterval.String()), &opts.FleetHistoryInterval)
	app.Flag("selector.hash-epsilon", "bounded-hash slack: a node takes rooms by hash up to (1+epsilon) x the mean load.").
		Default(fmt.Sprint(opts.Placement.Epsilon)).Float64Var(&opts.Placement.Epsilon)
	app.Flag("rooms.store", "Room bindings: memory (one replica), consul (KV, several replicas) or none (bounded-hash only).").
		Default(opts.RoomsStore).EnumVar(&opts.RoomsStore, selector.StoreMemory, selector.StoreConsul, selector.StoreNone)
	cli.PositiveDurationVar(app.Flag("rooms.ttl", "A room binding expires after this long without a lookup. Keep it longer than the longest meeting: lookups happen only when people join, so a shorter TTL can expire a running meeting's binding and send a late joiner to another node.").
		Default(opts.RoomsTTL.String()), &opts.RoomsTTL)
	app.Flag("rooms.unjoined-ttl", "A new room binding nobody looks up again expires after this long (the first later lookup gives it --rooms.ttl), so rooms a flood creates and never joins leave --limits.max-rooms soon; 0 means --rooms.ttl.").
		Default(opts.RoomsUnjoinedTTL.String()).DurationVar(&opts.RoomsUnjoinedTTL)
	app.Flag("rooms.move-after", "A room moves off a node only once the node has been gone (critical in Consul) this long; until then joins still go to it, so a flapping check or a restarted Consul agent does not split its meetings. Keep it above (success_before_passing + 1) x the nodes' check interval; 0 moves at once.").
		Default(opts.RoomsMoveAfter.String()).DurationVar(&opts.RoomsMoveAfter)
	app.Flag("rooms.consul-prefix", "Consul KV folder of the room bindings.").
		Default(opts.RoomsPrefix).StringVar(&opts.RoomsPrefix)
	app.Flag("limits.room-rate", "New rooms per second each client address may create (IPv6: per /64), 0 = no limit; joining existing rooms is never limited.").
		Default(fmt.Sprint(opts.LimitsRoomRate)).Float64Var(&opts.LimitsRoomRate)
	app.Flag("limits.room-burst", "Burst of new rooms per client address.").
		Default(fmt.Sprint(opts.LimitsRoomBurst)).IntVar(&opts.LimitsRoomBurst)
	app.Flag("limits.clients", "Client addresses tracked by the room rate limit (memory bound).").
		Default(fmt.Sprint(opts.LimitsClients)).IntVar(&opts.LimitsClients)
	app.Flag("limits.trusted-proxies", "Proxies (CIDRs, repeatable or comma-separated) whose X-Forwarded-For names the client.").
		Default(strings.Join(opts.LimitsTrustedProxies, ",")).StringsVar(&opts.LimitsTrustedProxies)
	app.Flag("limits.max-pending-per-node", "Refuse a new room (503) when its node already has this many new rooms pending, 0 = no cap.").
		Default(fmt.Sprint(opts.LimitsMaxPending)).IntVar(&opts.LimitsMaxPending)
	app.Flag("limits.max-rooms", "Refuse new rooms (503) while this many bindings are live, 0 = no cap.").
		Default(fmt.Sprint(opts.LimitsMaxRooms)).IntVar(&opts.LimitsMaxRooms)
	cli.PositiveDurationVar(app.Flag("web.read-header-timeout", "Time a client may take to send request headers.").
		Default(opts.ReadHeaderTimeout.String()), &opts.ReadHeaderTimeout)
	cli.PositiveDurationVar(app.Flag("web.read-timeout", "Time a client may take to send a whole request.").
		Default(opts.ReadTimeout.String()), &opts.ReadTimeout)
	cli.PositiveDurationVar(app.Flag("web.write-timeout", "Time to write a response.").
		Default(opts.WriteTimeout.String()), &opts.WriteTimeout)
	cli.PositiveDurationVar(app.Flag("web.idle-timeout", "Time an idle keep-alive connection stays open.").
		Default(opts.IdleTimeout.String()), &opts.IdleTimeout)
	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		opts.NodesAllowedDomains = splitList(opts.NodesAllowedDomains)
		opts.LimitsTrustedProxies = splitList(opts.LimitsTrustedProxies)
		nb, err := selector.ParseRegionNeighbours(*neighbours)
		if err != nil {
			return cli.UsageError(err)
		}
		opts.RegionNeighbours = nb
		opts.ListenAddresses = *webFlags.WebListenAddresses
		opts.WebConfigFile = *webFlags.WebConfigFile
		opts.Logger = s.Logger
		opts.Version = cli.Version()
		opts.Now = time.Now
		consul, err := api.NewClient(api.DefaultConfig())
		if err != nil {
			return cli.UsageError(fmt.Errorf("consul client: %w", err))
		}
		opts.Consul = consul
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts.Registry = reg
		if err := opts.Validate(); err != nil {
			return cli.UsageError(err)
		}
		return selector.Run(ctx, opts)
	})
}

// splitList splits comma-separated entries of a repeatable flag (the environment variable gives
// one value) and drops empty ones.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}
