// Package selector is the service that tells each meeting which Jitsi node hosts it. It follows the fleet
// in Consul (catalog), reads each node's load (load), places new rooms with a placement policy, keeps
// room → node bindings (rooms, consulrooms), and serves a JSON API, redirects and a web page.
package selector

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/selector/load"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Store names for Options.RoomsStore.
const (
	StoreMemory = "memory"
	StoreConsul = "consul"
	StoreNone   = "none"
)

// DefaultRoomsTTL is --rooms.ttl's default: longer than any meeting, since a binding expires while
// its meeting goes on if nobody asks for the room meanwhile (the simulator split 6.5 % of rooms
// with 10 minutes). The memory store grows with the rooms used within one TTL, about 150 bytes a
// room (135 measured with 17-character names): a day of 100,000 meetings holds some 15 MB.
const DefaultRoomsTTL = 24 * time.Hour

// DefaultRoomsUnjoinedTTL is --rooms.unjoined-ttl's default.
const DefaultRoomsUnjoinedTTL = 30 * time.Minute

// DefaultRoomsMoveAfter is --rooms.move-after's default: 2.5 times the time a node with the
// sidecar's default checks (every 2 s, 2 successes before passing) stays critical after a restart
// of its Consul agent (the first check runs up to one interval after the start).
const DefaultRoomsMoveAfter = 10 * time.Second

// DefaultFleetLead is --fleet.lead's default: the simulator's 3-minute boot, a few minutes of
// scaler delay, and a margin (the lead the simulator was run with, docs/placement.md).
const DefaultFleetLead = 10 * time.Minute

// maxFleetHistoryDays bounds --fleet.history-days: one query term per day, and Prometheus rarely
// keeps more than a few weeks.
const maxFleetHistoryDays = 60

// Options configures Run. Field names mirror the command-line flags.
type Options struct {
	// ListenAddresses are the HTTP listen addresses (--web.listen-address); "127.0.0.1:0" works.
	ListenAddresses []string
	// WebConfigFile is exporter-toolkit's TLS/basic-auth file (--web.config.file); empty = plain HTTP.
	WebConfigFile string
	// Consul is the client for the catalog and the consul rooms store (CONSUL_HTTP_ADDR).
	Consul *api.Client
	// ConsulService is the service to follow (--consul.service).
	ConsulService string
	// NodesAllowedDomains lists the domains of node public URLs (--nodes.allowed-domains), required
	// unless NodesUnbound: a node's public URL must be https://<its Consul node name>.<domain> and
	// its service ID its Consul node name, so no other node's token can claim its identity.
	NodesAllowedDomains []string
	// NodesUnbound (--nodes.insecure-unbound, labs only) uses any service ID and any public URL under
	// NodesAllowedDomains (any host when empty): whoever may register the Jitsi service in Consul
	// may then take another node's rooms or send users anywhere.
	NodesUnbound bool
	// CatalogMaxStaleness is how long the last catalog is served while Consul does not answer
	// (--catalog.max-staleness); after that rooms get 503 and /-/ready fails.
	CatalogMaxStaleness time.Duration

	// LoadSource names the load source (--load.source): prometheus or direct.
	LoadSource string
	// PrometheusURL, PrometheusInterval and Queries configure the prometheus source
	// (--prometheus.url, --prometheus.interval, --prometheus.query.*). The interval also paces the
	// direct source.
	PrometheusURL      string
	PrometheusInterval time.Duration
	Queries            load.Queries
	// LoadTimeout bounds one read of the load source (--load.timeout).
	LoadTimeout time.Duration
	// LoadDirectScheme (http or https), LoadDirectCAFile (PEM roots for https; empty = the
	// system's), LoadDirectBasicAuthUser and LoadDirectBasicAuthPasswordFile configure how the
	// direct source reaches sidecars whose web config has TLS or basic auth (--load.direct.*).
	LoadDirectScheme                string
	LoadDirectCAFile                string
	LoadDirectBasicAuthUser         string
	LoadDirectBasicAuthPasswordFile string
	// LoadScore is how a node's sample becomes the load placement compares (--load.score): max (of the
	// CPU busy ratio and the JVB stress level), cpu or stress.
	LoadScore string

	// Policy is the placement policy (--selector.policy).
	Policy string
	// Placement holds the high-water mark (--selector.high-water), the data age limit
	// (--load.max-age), the pending window and per-room cost (--selector.pending-window,
	// --selector.room-cost) and bounded-hash's epsilon.
	Placement placement.Config

	// RegionHeader is the request header the load balancer sets to the user's region
	// (--selector.region-header); empty: only ?region= says it. RegionNeighbours lists, per region,
	// where a new room may go when that region is saturated, nearest first
	// (--selector.region-neighbours, "home=near,far").
	RegionHeader     string
	RegionNeighbours map[string][]string
	// CapacityHeadroom is the share of the high-water mark kept free when sizing the fleet for
	// ensemble_fleet_desired_nodes (--fleet.headroom).
	CapacityHeadroom float64
	// FleetHistoryDays (--fleet.history-days) makes ensemble_fleet_desired_nodes anticipate: it
	// also covers the most demand (ensemble_fleet_demand_cpus, read from the Prometheus at
	// PrometheusURL whatever the load source) any of this many previous days had over the next
	// FleetLead at the same time of day. 0 turns it off.
	FleetHistoryDays int
	// FleetLead (--fleet.lead) is how far ahead the history is read: a node's boot time plus the
	// scaler's delay and a margin.
	FleetLead time.Duration
	// FleetHistoryInterval (--fleet.history-interval) is how often the history is read; at most
	// half of FleetLead, since an answer is used only until it is FleetLead old.
	FleetHistoryInterval time.Duration

	// RoomsStore is memory, consul or none (--rooms.store). none keeps no bindings: only bounded-hash
	// then gives every replica the same answer, so other policies are refused with it.
	RoomsStore string
	// RoomsTTL is the idle time after which a binding expires (--rooms.ttl). A binding is refreshed
	// only when somebody asks for its room, so a meeting that nobody joins for longer than the TTL
	// loses its binding and a late joiner may land on another node: the TTL must exceed the longest
	// meeting. It only bounds how long forgotten rooms are kept.
	RoomsTTL time.Duration
	// RoomsUnjoinedTTL (--rooms.unjoined-ttl) is how long a new binding lives when nobody asks for
	// its room again; the first later lookup gives it the full RoomsTTL. A flood of rooms nobody
	// joins (they count against LimitsMaxRooms) is thus gone after this long, not after RoomsTTL;
	// a meeting whose second participant comes later may be placed anew. 0 means RoomsTTL.
	RoomsUnjoinedTTL time.Duration
	// RoomsMoveAfter is how long a node must have been gone before its rooms move to another node
	// (--rooms.move-after). Until then joins of its rooms still go to it: people already in a
	// meeting stay where they are, so moving a room that a flapping check, or a restarted Consul
	// agent (every check restarts critical), made look gone would split the meeting. Keep it above
	// (success_before_passing + 1) x the check interval.
	RoomsMoveAfter time.Duration
	// RoomsPrefix is the Consul KV folder of the bindings (--rooms.consul-prefix).
	RoomsPrefix string

	// LimitsRoomRate and LimitsRoomBurst are the token bucket of room creation per client
	// address (--limits.room-rate, --limits.room-burst); a rate of 0 turns it off. Lookups of
	// rooms that already exist are never limited. LimitsClients bounds the clients tracked.
	LimitsRoomRate  float64
	LimitsRoomBurst int
	LimitsClients   int
	// LimitsTrustedProxies are the proxies whose X-Forwarded-For names the client
	// (--limits.trusted-proxies, CIDRs).
	LimitsTrustedProxies []string
	// LimitsMaxPending refuses a new room (503) when the node placement chose already has this
	// many rooms in its pending account (--limits.max-pending-per-node; 0 = no cap). It bounds
	// what a flood from many addresses does to one node's account; set it above the busiest
	// minute's legitimate new rooms per node times the pending window.
	LimitsMaxPending int
	// LimitsMaxRooms refuses new rooms (503) while this many bindings are live
	// (--limits.max-rooms; 0 = no cap).
	LimitsMaxRooms int

	// Server timeouts and limits (--web.read-header-timeout etc.).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	MaxBodyBytes                                              int64

	// Logger, Registry and Now are injected; Registry receives the selector's metrics and is served on
	// /metrics.
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Now      func() time.Time
	// OnListen, if set, is called with the bound addresses before serving (tests use it with port 0).
	OnListen func([]net.Addr)
	// ShutdownTimeout bounds the graceful shutdown of the HTTP servers once ctx ends (zero:
	// httpserve.DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Version is shown on the web page and in ensemble_selector_build_info.
	Version string
}

// DefaultOptions returns the defaults of every flag.
func DefaultOptions() Options {
	return Options{
		ListenAddresses:      []string{"127.0.0.1:8080"},
		ConsulService:        "jitsi",
		CatalogMaxStaleness:  60 * time.Second,
		LoadSource:           "prometheus",
		PrometheusURL:        "http://127.0.0.1:9090",
		PrometheusInterval:   5 * time.Second,
		Queries:              load.DefaultQueries(),
		LoadTimeout:          3 * time.Second,
		LoadDirectScheme:     "http",
		LoadScore:            load.ScoreMax,
		Policy:               placement.DefaultPolicy,
		Placement:            placement.DefaultConfig(),
		CapacityHeadroom:     placement.DefaultHeadroom,
		FleetLead:            DefaultFleetLead,
		FleetHistoryInterval: time.Minute,
		RoomsStore:           StoreMemory,
		RoomsTTL:             DefaultRoomsTTL,
		RoomsUnjoinedTTL:     DefaultRoomsUnjoinedTTL,
		RoomsMoveAfter:       DefaultRoomsMoveAfter,
		RoomsPrefix:          "ensemble/rooms/",
		LimitsRoomRate:       1,
		LimitsRoomBurst:      30,
		LimitsClients:        100000,
		LimitsTrustedProxies: []string{"127.0.0.1/32", "::1/128"},
		LimitsMaxPending:     0,
		LimitsMaxRooms:       500000,
		ReadHeaderTimeout:    5 * time.Second,
		ReadTimeout:          10 * time.Second,
		WriteTimeout:         15 * time.Second,
		IdleTimeout:          60 * time.Second,
		MaxHeaderBytes:       16 << 10,
		MaxBodyBytes:         64 << 10,
		Version:              "devel",
	}
}

// Validate reports every option that cannot work; New calls it too.
func (o Options) Validate() error {
	var errs []error
	if o.Consul == nil {
		errs = append(errs, errors.New("no Consul client"))
	}
	if o.ConsulService == "" {
		errs = append(errs, errors.New("empty Consul service name"))
	}
	if !o.NodesUnbound && len(o.NodesAllowedDomains) == 0 {
		errs = append(errs, errors.New("--nodes.allowed-domains is required: node public URLs must be https://<Consul node>.<allowed domain> "+
			"(--nodes.insecure-unbound turns that binding off, for labs only)"))
	}
	if o.CatalogMaxStaleness <= 0 {
		errs = append(errs, fmt.Errorf("catalog max staleness must be positive, got %v", o.CatalogMaxStaleness))
	}
	if o.PrometheusInterval <= 0 || o.LoadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("load interval (%v) and timeout (%v) must be positive", o.PrometheusInterval, o.LoadTimeout))
	}
	if _, err := load.NewScorer(o.LoadScore); err != nil {
		errs = append(errs, err)
	}
	if !(o.CapacityHeadroom >= 0 && o.CapacityHeadroom < 1) {
		errs = append(errs, fmt.Errorf("capacity headroom must be in [0, 1), got %v", o.CapacityHeadroom))
	}
	if o.FleetHistoryDays < 0 || o.FleetHistoryDays > maxFleetHistoryDays {
		errs = append(errs, fmt.Errorf("fleet history days must be in [0, %d], got %d", maxFleetHistoryDays, o.FleetHistoryDays))
	}
	if o.FleetHistoryDays > 0 && !(o.FleetLead >= time.Second && o.FleetLead < 24*time.Hour &&
		o.FleetHistoryInterval > 0 && o.FleetHistoryInterval <= o.FleetLead/2) {
		errs = append(errs, fmt.Errorf("fleet lead must be in [1s, 24h) and the history interval in (0, lead/2], got %v and %v",
			o.FleetLead, o.FleetHistoryInterval))
	}
	if o.FleetHistoryDays > 0 && o.PrometheusURL == "" {
		errs = append(errs, errors.New("--fleet.history-days reads the history from --prometheus.url, which is empty"))
	}
	for home, nbs := range o.RegionNeighbours {
		for _, r := range append([]string{home}, nbs...) {
			if !validRegion(r) {
				errs = append(errs, fmt.Errorf("region neighbours: bad region name %q", r))
			}
		}
	}
	if err := o.Placement.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch o.RoomsStore {
	case StoreMemory, StoreConsul:
	case StoreNone:
		if o.Policy != "bounded-hash" {
			errs = append(errs, fmt.Errorf("--rooms.store=none needs --selector.policy=bounded-hash (policy %q would split rooms between requests and replicas)", o.Policy))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown rooms store %q (memory, consul or none)", o.RoomsStore))
	}
	if o.LimitsRoomRate < 0 || o.LimitsRoomRate > 0 && (o.LimitsRoomBurst < 1 || o.LimitsClients < 1) || o.LimitsMaxPending < 0 || o.LimitsMaxRooms < 0 {
		errs = append(errs, fmt.Errorf("limits: room rate (%v) must not be negative, burst (%d) and clients (%d) at least 1, caps (%d, %d) not negative",
			o.LimitsRoomRate, o.LimitsRoomBurst, o.LimitsClients, o.LimitsMaxPending, o.LimitsMaxRooms))
	}
	if o.RoomsTTL <= 0 {
		errs = append(errs, fmt.Errorf("rooms TTL must be positive, got %v", o.RoomsTTL))
	}
	if o.RoomsUnjoinedTTL < 0 {
		errs = append(errs, fmt.Errorf("rooms unjoined TTL must not be negative, got %v", o.RoomsUnjoinedTTL))
	}
	if o.RoomsMoveAfter < 0 {
		errs = append(errs, fmt.Errorf("rooms move delay must not be negative, got %v", o.RoomsMoveAfter))
	}
	if o.ReadHeaderTimeout <= 0 || o.ReadTimeout <= 0 || o.WriteTimeout <= 0 || o.IdleTimeout <= 0 || o.MaxHeaderBytes <= 0 || o.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("server timeouts and limits must be positive"))
	}
	if o.Logger == nil || o.Registry == nil || o.Now == nil {
		errs = append(errs, errors.New("logger, registry and clock must be set"))
	}
	return errors.Join(errs...)
}

// validRegion accepts the region names a node's Meta and a request may carry: 1-64 of a-z, 0-9, '-'
// and '_', starting with a letter or digit.
func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '-' || c == '_')) {
			return false
		}
	}
	return true
}

// ParseRegionNeighbours parses --selector.region-neighbours values "home=near,far" (one per home
// region) into RegionNeighbours.
func ParseRegionNeighbours(values []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, v := range values {
		home, list, ok := strings.Cut(v, "=")
		if !ok || home == "" || list == "" {
			return nil, fmt.Errorf("region neighbours %q: want home=near[,far...]", v)
		}
		if _, dup := out[home]; dup {
			return nil, fmt.Errorf("region neighbours: %q given twice", home)
		}
		for _, nb := range strings.Split(list, ",") {
			if nb == home || !validRegion(nb) {
				return nil, fmt.Errorf("region neighbours %q: bad neighbour %q", v, nb)
			}
			out[home] = append(out[home], nb)
		}
		if !validRegion(home) {
			return nil, fmt.Errorf("region neighbours %q: bad region %q", v, home)
		}
	}
	return out, nil
}
