// Package dashboards defines Ensemble's Grafana dashboards in Go with the
// Grafana Foundation SDK: a fleet dashboard (nodes by state, load score per
// node, placements per policy, saturation, degraded modes, drain progress,
// conference sizes) and a node dashboard (CPU, network, nginx, bridge).
// cmd/tools/ensemble-dashboards writes them to deploy/grafana/*.json; a test fails
// when the committed files differ, and the end-to-end suite runs every
// panel's query against the demo fleet's Prometheus.
package dashboards

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Query is one PromQL target of a panel.
type Query struct {
	Expr   string
	Legend string
}

// kind is a panel type.
type kind int

const (
	timeSeries kind = iota
	singleStat
)

// Panel is one panel: its queries are what the end-to-end suite checks.
type Panel struct {
	Title, Description, Unit string
	kind                     kind
	Queries                  []Query
}

// Dashboard is one dashboard's definition.
type Dashboard struct {
	// File is its name under deploy/grafana.
	File        string
	UID, Title  string
	Description string
	// NodeVariable adds a $node variable (from the node label).
	NodeVariable bool
	Rows         []Row
}

// Row groups panels.
type Row struct {
	Title  string
	Panels []Panel
}

// datasource is the dashboards' Prometheus, chosen on import.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// All returns the dashboards, in file order.
func All() []Dashboard { return []Dashboard{Fleet(), Node()} }

// Fleet is the whole fleet at a glance.
func Fleet() Dashboard {
	return Dashboard{
		File: "fleet.json", UID: "ensemble-fleet", Title: "Ensemble fleet",
		Description: "Jitsi nodes as the selectors see them: state, load, placements, saturation, degraded modes, drains, conference sizes.",
		Rows: []Row{
			{Title: "Nodes and placement", Panels: []Panel{
				{Title: "Nodes by state", Unit: "short", kind: singleStat,
					Description: "Nodes in the selectors' catalog: eligible take rooms, draining finish theirs, gone left Consul.",
					Queries:     []Query{{Expr: `max by (state) (ensemble_selector_catalog_nodes)`, Legend: "{{state}}"}}},
				{Title: "Load score per node", Unit: "percentunit",
					Description: "Corrected score (reported load + pending rooms × cost) the selectors compare; the high-water mark is 0.8 by default.",
					Queries:     []Query{{Expr: `max by (node) (ensemble_selector_node_score_ratio)`, Legend: "{{node}}"}}},
				{Title: "Placements per policy", Unit: "ops",
					Description: "Room lookups per second by policy and outcome (created, existing, joined, rebound, no_node …).",
					Queries:     []Query{{Expr: `sum by (policy, outcome) (rate(ensemble_selector_decisions_total[$__rate_interval]))`, Legend: "{{policy}} {{outcome}}"}}},
			}},
			{Title: "Health", Panels: []Panel{
				{Title: "Saturation", Unit: "bool", kind: singleStat,
					Description: "1 when every eligible node is at or above the high-water mark.",
					Queries:     []Query{{Expr: `max(ensemble_selector_saturated)`, Legend: "saturated"}}},
				{Title: "Degraded modes", Unit: "short",
					Description: "Selectors running degraded, by reason (consul, catalog_stale, load); see docs/operations.md.",
					Queries:     []Query{{Expr: `sum by (reason) (ensemble_selector_degraded)`, Legend: "{{reason}}"}}},
				{Title: "Drain progress", Unit: "short",
					Description: "Nodes per drain state, and each node's local endpoints: a draining node is drained when its reach 0.",
					Queries: []Query{
						{Expr: `sum by (state) (ensemble_sidecar_drain_state)`, Legend: "{{state}}"},
						{Expr: `max by (node) (ensemble_jvb_local_endpoints)`, Legend: "{{node}} local endpoints"},
					}},
			}},
			{Title: "Meetings", Panels: []Panel{
				{Title: "Conference sizes", Unit: "short",
					Description: "Current conferences in the fleet by number of endpoints (bridges that report it: /metrics source, or /colibri/stats before 2024).",
					Queries:     []Query{{Expr: `sum by (size) (ensemble_jvb_conferences_by_size)`, Legend: "{{size}} endpoints"}}},
				{Title: "Endpoints and conferences", Unit: "short",
					Queries: []Query{
						{Expr: `sum(ensemble_jvb_endpoints)`, Legend: "endpoints"},
						{Expr: `sum(ensemble_jvb_conferences)`, Legend: "conferences"},
					}},
			}},
		},
	}
}

// Node is one node in detail; $node selects it.
func Node() Dashboard {
	const n = `node=~"$node"`
	return Dashboard{
		File: "node.json", UID: "ensemble-node", Title: "Ensemble node", NodeVariable: true,
		Description: "One Jitsi node from its sidecar: CPU, network, nginx and the videobridge.",
		Rows: []Row{
			{Title: "CPU", Panels: []Panel{
				{Title: "CPU busy", Unit: "percentunit",
					Description: "Busy ratio over 30 s (iowait counts as idle): the selector's CPU load.",
					Queries:     []Query{{Expr: `node:ensemble_cpu_busy:ratio_rate30s{` + n + `}`, Legend: "{{node}}"}}},
				{Title: "Load average", Unit: "short",
					Queries: []Query{{Expr: `ensemble_cpu_load1{` + n + `}`, Legend: "{{node}} 1m"}}},
			}},
			{Title: "Network", Panels: []Panel{
				{Title: "Network traffic", Unit: "Bps",
					Queries: []Query{
						{Expr: `sum by (node) (rate(ensemble_network_receive_bytes_total{` + n + `}[$__rate_interval]))`, Legend: "{{node}} in"},
						{Expr: `sum by (node) (rate(ensemble_network_transmit_bytes_total{` + n + `}[$__rate_interval]))`, Legend: "{{node}} out"},
					}},
			}},
			{Title: "nginx", Panels: []Panel{
				{Title: "nginx requests", Unit: "reqps",
					Queries: []Query{{Expr: `rate(ensemble_nginx_http_requests_total{` + n + `}[$__rate_interval])`, Legend: "{{node}}"}}},
				{Title: "nginx connections", Unit: "short",
					Queries: []Query{{Expr: `ensemble_nginx_connections_active{` + n + `}`, Legend: "{{node}} active"}}},
			}},
			{Title: "Videobridge", Panels: []Panel{
				{Title: "Bridge up and healthy", Unit: "bool", kind: singleStat,
					Queries: []Query{
						{Expr: `min by (node) (ensemble_jvb_up{` + n + `})`, Legend: "{{node}} up"},
						{Expr: `min by (node) (ensemble_jvb_healthy{` + n + `})`, Legend: "{{node}} healthy"},
					}},
				{Title: "Endpoints and conferences", Unit: "short",
					Queries: []Query{
						{Expr: `ensemble_jvb_endpoints{` + n + `}`, Legend: "{{node}} endpoints"},
						{Expr: `ensemble_jvb_conferences{` + n + `}`, Legend: "{{node}} conferences"},
						{Expr: `ensemble_jvb_largest_conference{` + n + `}`, Legend: "{{node}} largest"},
					}},
				{Title: "Stress level", Unit: "percentunit",
					Queries: []Query{{Expr: `ensemble_jvb_stress_level{` + n + `}`, Legend: "{{node}}"}}},
				{Title: "Media rate", Unit: "Bps",
					Queries: []Query{
						{Expr: `ensemble_jvb_receive_bytes_per_second{` + n + `}`, Legend: "{{node}} in"},
						{Expr: `ensemble_jvb_transmit_bytes_per_second{` + n + `}`, Legend: "{{node}} out"},
					}},
			}},
		},
	}
}

// Queries returns every query of d, in panel order.
func (d Dashboard) Queries() []Query {
	var qs []Query
	for _, r := range d.Rows {
		for _, p := range r.Panels {
			qs = append(qs, p.Queries...)
		}
	}
	return qs
}

// Expand replaces the Grafana variables of a query for running it against
// Prometheus directly: $node matches every node, $__rate_interval becomes
// rateInterval.
func Expand(expr, rateInterval string) string {
	return strings.NewReplacer(`"$node"`, `".+"`, "$__rate_interval", rateInterval).Replace(expr)
}

// Build returns the dashboard's Grafana JSON model. It is the classic
// (schema v1) model on purpose: the SDK marks it deprecated in favour of
// dashboardv2, but v2 imports only into Grafana 12 and later, and the
// classic JSON imports into every Grafana operators run.
//
//lint:ignore SA1019 classic dashboards, see above
func (d Dashboard) Build() (dashboard.Dashboard, error) {
	//lint:ignore SA1019 classic dashboards, see Build's comment
	b := dashboard.NewDashboardBuilder(d.Title).
		Uid(d.UID).
		Description(d.Description).
		Tags([]string{"ensemble", "jitsi"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
	if d.NodeVariable {
		b = b.WithVariable(dashboard.NewQueryVariableBuilder("node").
			Label("Node").
			Datasource(datasource).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(ensemble_scrape_collector_success, node)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Multi(true).
			IncludeAll(true))
	}
	for _, r := range d.Rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.Title))
		for _, p := range r.Panels {
			b = b.WithPanel(panel(p))
		}
	}
	out, err := b.Build()
	if err != nil {
		return out, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	return out, nil
}

// JSON returns the dashboard as indented JSON with a final newline, the
// form committed under deploy/grafana.
func (d Dashboard) JSON() ([]byte, error) {
	m, err := d.Build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}

func targets(p Panel) []cog.Builder[variants.Dataquery] {
	var ts []cog.Builder[variants.Dataquery]
	for _, q := range p.Queries {
		ts = append(ts, prometheus.NewDataqueryBuilder().Expr(q.Expr).LegendFormat(q.Legend).Datasource(datasource))
	}
	return ts
}

func panel(p Panel) cog.Builder[dashboard.Panel] {
	switch p.kind {
	case singleStat:
		b := stat.NewPanelBuilder().Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource).Height(6).Span(8)
		for _, t := range targets(p) {
			b = b.WithTarget(t)
		}
		return b
	}
	b := timeseries.NewPanelBuilder().Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource).Height(8).Span(12)
	for _, t := range targets(p) {
		b = b.WithTarget(t)
	}
	return b
}
