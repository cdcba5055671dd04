package selector

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

const namespace = "ensemble_selector"

// Degraded reasons (label values of ensemble_selector_degraded).
const (
	// reasonConsul: the last Consul request failed; the last catalog is still served.
	reasonConsul = "consul"
	// reasonCatalogStale: Consul has not answered for longer than --catalog.max-staleness; rooms get 503.
	reasonCatalogStale = "catalog_stale"
	// reasonLoad: the load source fails or has no fresh data; rooms are placed by pending accounts only.
	reasonLoad = "load"
)

var degradedReasons = []string{reasonConsul, reasonCatalogStale, reasonLoad}

// Decision outcomes (label values of ensemble_selector_decisions_total): the rooms.Outcome values and the
// failures.
const (
	outcomeInvalid      = "invalid"
	outcomeCatalogStale = "catalog_stale"
	outcomeNoNode       = "no_node"
	outcomeStoreError   = "store_error"
	outcomeRateLimited  = "rate_limited"
	outcomeOverCapacity = "over_capacity"
)

var outcomes = []string{
	string(rooms.Existing), string(rooms.Created), string(rooms.Joined), string(rooms.Rebound), string(rooms.Held),
	outcomeInvalid, outcomeCatalogStale, outcomeNoNode, outcomeStoreError, outcomeRateLimited, outcomeOverCapacity,
}

// metrics are the selector's own instruments.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	decisions     *prometheus.CounterVec
	decisionScore *prometheus.HistogramVec
	catalogIndex  prometheus.Gauge
	consulErrors  *prometheus.CounterVec
	loadErrors    *prometheus.CounterVec
	degraded      *prometheus.GaugeVec
	saturated     prometheus.Gauge
	ignored       prometheus.Counter
	conflicts     prometheus.Gauge
	spills        *prometheus.CounterVec
	historyErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, version string) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"handler"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "decisions_total",
			Help: "Room lookups, by policy and outcome (existing, created, joined, rebound, no_node, invalid, store_error, catalog_stale, rate_limited: the client created too many rooms, over_capacity: the live-room or per-node pending cap refused a new room).",
		}, []string{"policy", "outcome"}),
		decisionScore: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "decision_score_ratio",
			Help:    "Corrected score of the node chosen for a new or rebound room, by policy.",
			Buckets: []float64{.1, .2, .3, .4, .5, .6, .7, .8, .9, 1, 1.5},
		}, []string{"policy"}),
		catalogIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "catalog_index",
			Help: "Consul index of the last catalog answer.",
		}),
		consulErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "consul_errors_total",
			Help: "Failed Consul requests, by operation (watch, rooms).",
		}, []string{"operation"}),
		loadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "load_errors_total",
			Help: "Failed reads of the load source, by source.",
		}, []string{"source"}),
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "degraded",
			Help: "1 while the selector runs degraded for the reason given: consul (Consul errors, last catalog served), catalog_stale (catalog too old, rooms refused), load (no load data, placing by pending accounts only).",
		}, []string{"reason"}),
		saturated: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "saturated",
			Help: "1 when every eligible node is at or above the high-water mark (new rooms still go to the least loaded).",
		}),
		spills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "region_spills_total",
			Help: "New rooms placed outside the user's region because it was saturated or had no eligible node, by the user's region (other: a region without configured neighbours).",
		}, []string{"region"}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "fleet_history_errors_total",
			Help: "Failed reads of the previous days' demand from Prometheus (--fleet.history-days); ensemble_fleet_desired_nodes follows the load at hand once the last good answer is older than --fleet.lead.",
		}),
		ignored: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "catalog_ignored_instances_total",
			Help: "Service instances left out of the catalog (bad service ID, public_url or domain), counted each time the set of ignored instances changes.",
		}),
		conflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "catalog_conflicts",
			Help: "Service instances that claim an identity their Consul node does not own (a service ID other than the node's name, a public URL other than https://<node>.<allowed domain>) or share a service ID with another node's; none is used. Also counts bound nodes whose instance was deregistered while their node's own check passes, held draining.",
		}),
	}
	for _, r := range degradedReasons {
		m.degraded.WithLabelValues(r)
	}
	m.consulErrors.WithLabelValues("watch")
	m.consulErrors.WithLabelValues("rooms")
	reg.MustRegister(m.requests, m.duration, m.decisions, m.decisionScore, m.catalogIndex, m.consulErrors,
		m.loadErrors, m.degraded, m.saturated, m.ignored, m.conflicts, m.spills, m.historyErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info", Help: "Always 1; the version label says which build runs.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }))
	return m
}

// fleetCollector reports the current view per node at scrape time, so nodes that left vanish from the
// exposition instead of lingering as stale gauges.
type fleetCollector struct {
	s                                             *Selector
	score, age, pending, rooms, nodes, catalogAge *prometheus.Desc
	desired, serving, leaving, demand, ahead      *prometheus.Desc
}

func newFleetCollector(s *Selector) *fleetCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &fleetCollector{
		s:          s,
		score:      d("node_score_ratio", "Corrected score of each node with usable load data (reported load + pending rooms × cost).", "node"),
		age:        d("node_load_age_seconds", "Age of each node's load data; absent when the node has none.", "node"),
		pending:    d("node_pending_rooms", "Rooms assigned to each node within the pending window.", "node"),
		rooms:      d("node_bound_rooms", "Rooms bound to each node (consul store: as of the last sweep).", "node"),
		nodes:      d("catalog_nodes", "Nodes in the catalog, by state.", "state"),
		catalogAge: d("catalog_age_seconds", "Time since Consul last answered the catalog watch."),
		// The capacity signal for autoscalers (docs/operations.md): fleet-wide names, since every
		// replica computes the same figure from the same data.
		desired: prometheus.NewDesc("ensemble_fleet_desired_nodes",
			"Serving nodes that would carry the region's load at a mean of high-water × (1 - headroom); draining nodes' load counts, their CPUs do not. With --fleet.history-days, at least the nodes that would carry ensemble_fleet_anticipated_demand_cpus.", []string{"region"}, nil),
		serving: prometheus.NewDesc("ensemble_fleet_serving_nodes", "Nodes taking new rooms, by region.", []string{"region"}, nil),
		leaving: prometheus.NewDesc("ensemble_fleet_leaving_nodes", "Draining nodes (leaving the fleet), by region.", []string{"region"}, nil),
		// The history a time-of-day demand profile is learned from (placement.Profile, docs/placement.md).
		demand: prometheus.NewDesc("ensemble_fleet_demand_cpus", "CPUs the region's serving and draining nodes with usable load data are busy with.", []string{"region"}, nil),
		ahead: prometheus.NewDesc("ensemble_fleet_anticipated_demand_cpus",
			"The most CPUs the region was busy with over the next --fleet.lead at this time of day on the previous --fleet.history-days days, as last read from Prometheus; absent without an answer younger than --fleet.lead.", []string{"region"}, nil),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.score, c.age, c.pending, c.rooms, c.nodes, c.catalogAge, c.desired, c.serving, c.leaving, c.demand, c.ahead} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.s.view.Load()
	if v == nil {
		return
	}
	counts := map[placement.State]int{}
	rooms, _ := c.s.roomCounts()
	sizing := make([]placement.Node, 0, v.place.Len())
	for i, n := range v.place.Nodes() {
		counts[n.State]++
		if n.Age < 0 || n.Age > c.s.opts.Placement.MaxAge {
			n.Load = math.NaN() // stale data sizes nothing
		}
		sizing = append(sizing, n)
		if sc := v.place.Score(i); !math.IsNaN(sc) {
			ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, sc, n.ID)
		}
		if n.Age >= 0 && n.Age < unknownAge {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, n.Age.Seconds(), n.ID)
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(v.place.Pending(i)), n.ID)
		if rooms != nil {
			ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(rooms[n.ID]), n.ID)
		}
	}
	for _, st := range []placement.State{placement.Eligible, placement.Draining, placement.Gone} {
		ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, float64(counts[st]), st.String())
	}
	hw, headroom := c.s.opts.Placement.HighWater, c.s.opts.CapacityHeadroom
	ahead := c.s.aheadDemand()
	for _, r := range placement.DesiredNodes(sizing, hw, headroom) {
		// The demand gauge stays the load at hand: it is the history itself, and anticipated demand
		// fed into it would ratchet the profile up day after day.
		if d, ok := ahead[r.Region]; ok {
			r = placement.Anticipate(r, d, r.NodeCPUs, hw, headroom)
			ch <- prometheus.MustNewConstMetric(c.ahead, prometheus.GaugeValue, d, r.Region)
		}
		ch <- prometheus.MustNewConstMetric(c.desired, prometheus.GaugeValue, float64(r.Desired), r.Region)
		ch <- prometheus.MustNewConstMetric(c.serving, prometheus.GaugeValue, float64(r.Serving), r.Region)
		ch <- prometheus.MustNewConstMetric(c.leaving, prometheus.GaugeValue, float64(r.Leaving), r.Region)
		ch <- prometheus.MustNewConstMetric(c.demand, prometheus.GaugeValue, r.Demand, r.Region)
	}
	if t := c.s.watcher.LastContact(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.catalogAge, prometheus.GaugeValue, c.s.opts.Now().Sub(t).Seconds())
	}
}
