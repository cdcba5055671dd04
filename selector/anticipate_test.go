package selector

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// With --fleet.history-days, ensemble_fleet_desired_nodes rises before a demand step that came at
// this time of day + less than --fleet.lead on a previous day, read from a real Prometheus whose
// history promtool backfilled. Each region has one idle 4-CPU node today (desired 1 from the load
// at hand); the history, per region:
//   - step: yesterday 1 CPU, then 20 CPUs from 5 minutes after this time of day (inside the
//     10-minute lead), on replica a; replica b says 0.5 throughout. The most of the replicas, 20
//     CPUs, needs ceil(20 / (4 × 0.64)) = 8 nodes (their sum would need 9).
//   - twodays: the same step to 12 CPUs two days ago, yesterday 1 CPU: 5 nodes.
//   - later: the step 30 minutes after this time of day, beyond the lead: 1 node.
//   - none: no history: 1 node.
//
// A selector whose Prometheus is down keeps every region at the load at hand and counts the failures.
func TestFleetAnticipates(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool (Debian's prometheus package, scripts/install-deps.sh): %v", err)
	}
	now := time.Now()
	prom := testenv.StartPrometheus(t, "global: {scrape_interval: 15s}\n")
	backfill(t, prom, demandHistory(now))

	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	c := consul.Client(t)
	var nodes []*node
	regions := []string{"step", "twodays", "later", "none"}
	for _, r := range regions {
		nd := addNodeIn(t, c, r+"-1", "https://"+r+"-1.example.org", 4, r)
		nd.target.Set(0.1, 0.1, 10)
		nodes = append(nodes, nd)
	}

	opts := testOptions(t, consul)
	opts.FleetHistoryDays, opts.FleetLead, opts.FleetHistoryInterval = 2, 10*time.Minute, 200*time.Millisecond
	opts.PrometheusURL = prom.URL
	in := start(t, opts)
	down := opts
	down.PrometheusURL = "http://" + closedAddr(t)
	off := start(t, down)
	in.waitEligible(t, nodes)
	off.waitEligible(t, nodes)

	want := map[string]float64{"step": 8, "twodays": 5, "later": 1, "none": 1}
	testenv.WaitFor(t, 20*time.Second, func() error {
		if got := regionSeries(t, in, "ensemble_fleet_desired_nodes"); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("desired nodes %v, want %v", got, want)
		}
		return nil
	})
	t.Logf("anticipated desired nodes %v %.1fs after the test started", want, time.Since(now).Seconds())
	if got, want := regionSeries(t, in, "ensemble_fleet_anticipated_demand_cpus"), "map[later:1 step:20 twodays:12]"; fmt.Sprint(got) != want {
		t.Errorf("anticipated demand %v, want %s", got, want)
	}
	if got := regionSeries(t, in, "ensemble_fleet_demand_cpus"); got["step"] > 1 {
		t.Errorf("the demand gauge (the history itself) took the anticipated demand: %v", got)
	}
	testenv.GatherAndLint(t, in.reg)
	if v := in.metric(t, "ensemble_selector_fleet_history_errors_total", nil); v != 0 {
		t.Errorf("history errors with Prometheus up: %v", v)
	}

	testenv.WaitFor(t, 10*time.Second, func() error {
		if v := off.metric(t, "ensemble_selector_fleet_history_errors_total", nil); v < 2 {
			return fmt.Errorf("history errors %v with Prometheus down, want at least 2", v)
		}
		return nil
	})
	if got, want := fmt.Sprint(regionSeries(t, off, "ensemble_fleet_desired_nodes")), "map[later:1 none:1 step:1 twodays:1]"; got != want {
		t.Errorf("desired nodes with Prometheus down: %s, want the load at hand %s", got, want)
	}
	if got := regionSeries(t, off, "ensemble_fleet_anticipated_demand_cpus"); len(got) != 0 {
		t.Errorf("anticipated demand with Prometheus down: %v", got)
	}
}

// demandHistory is the OpenMetrics text of the history TestFleetAnticipates describes: a sample
// every 30 s from an hour before to an hour after this time of day, one and two days ago.
func demandHistory(now time.Time) string {
	type series struct {
		region, instance string
		day              int
		before, after    float64
		stepAt           time.Duration // after this time of day
	}
	all := []series{
		{"step", "a", 1, 1, 20, 5 * time.Minute},
		{"step", "b", 1, 0.5, 0.5, 0},
		{"twodays", "a", 2, 1, 12, 5 * time.Minute},
		{"twodays", "a", 1, 1, 1, 0},
		{"later", "a", 1, 1, 20, 30 * time.Minute},
	}
	var b strings.Builder
	b.WriteString("# HELP ensemble_fleet_demand_cpus CPUs the region's nodes are busy with.\n# TYPE ensemble_fleet_demand_cpus gauge\n")
	for _, s := range all {
		base := now.Add(-time.Duration(s.day) * 24 * time.Hour)
		for d := -time.Hour; d <= time.Hour; d += 30 * time.Second {
			v := s.before
			if d >= s.stepAt {
				v = s.after
			}
			fmt.Fprintf(&b, "ensemble_fleet_demand_cpus{job=\"selector\",instance=%q,region=%q} %g %d\n",
				s.instance, s.region, v, base.Add(d).Unix())
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// backfill writes openMetrics into the TSDB of the stopped prom with promtool and starts it again,
// as an operator backfills history (docs/operations.md).
func backfill(t *testing.T, prom *testenv.Prometheus, openMetrics string) {
	t.Helper()
	if err := prom.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(in, []byte(openMetrics), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "promtool", "tsdb", "create-blocks-from", "openmetrics", in, filepath.Join(prom.Server.Dir, "data")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	prom.Restart(t)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// regionSeries returns a gauge's value per region from the instance's registry.
func regionSeries(t *testing.T, in *instance, name string) map[string]float64 {
	t.Helper()
	mfs, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "region" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}
