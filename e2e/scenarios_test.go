package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// Node states as GET /api/v1/nodes shows them.
const (
	eligible = "eligible"
	draining = "draining"
)

// waitState waits until every selector shows node id in state want ("" =
// absent) and returns how long that took.
func waitState(t *testing.T, f *fleet.Fleet, id, want string, timeout time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, timeout, fmt.Sprintf("%s %q on every selector", id, want), func(ctx context.Context) error {
		for _, s := range f.Selectors {
			ns, err := nodes(ctx, s.URL)
			if err != nil {
				return err
			}
			n, ok := ns[id]
			switch {
			case want == "" && ok:
				return fmt.Errorf("%s: %s still listed as %s", s.Name, id, n.State)
			case want != "" && n.State != want:
				return fmt.Errorf("%s: %s is %q", s.Name, id, n.State)
			}
		}
		return nil
	})
}

// waitSettled waits until every selector shows every node eligible with a
// known load, and is not degraded: the state every fault starts from. The
// first scrape lands about 5 s after Prometheus starts.
func waitSettled(t *testing.T, f *fleet.Fleet) {
	t.Helper()
	waitFor(t, 60*time.Second, "fleet settled", func(ctx context.Context) error {
		for _, s := range f.Selectors {
			v, err := view(ctx, s.URL)
			if err != nil {
				return err
			}
			if len(v.Degraded) > 0 {
				return fmt.Errorf("%s degraded: %v", s.Name, v.Degraded)
			}
			if len(v.Nodes) != len(f.Nodes) {
				return fmt.Errorf("%s shows %d of %d nodes", s.Name, len(v.Nodes), len(f.Nodes))
			}
			for _, n := range v.Nodes {
				if n.State != eligible || n.Load == nil {
					return fmt.Errorf("%s: %s is %s with load %v", s.Name, n.ID, n.State, n.Load)
				}
			}
		}
		return nil
	})
}

// newRooms places count fresh rooms (prefix-1, prefix-2, ...) alternately
// through every selector and returns how many went to each node.
func newRooms(t *testing.T, f *fleet.Fleet, prefix string, count int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 1; i <= count; i++ {
		s := f.Selectors[i%len(f.Selectors)]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		node, err := room(ctx, s.URL, fmt.Sprintf("%s-%d", prefix, i))
		cancel()
		if err != nil {
			t.Fatalf("%s: room %s-%d: %v", s.Name, prefix, i, err)
		}
		got[node]++
	}
	return got
}

func mustRoom(t *testing.T, sel, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := room(ctx, sel, name)
	if err != nil {
		t.Fatalf("room %s from %s: %v", name, sel, err)
	}
	return node
}

// Scenario 1: new rooms spread over nodes; the same room from both replicas
// goes to the same node.
func TestSpreadAndReplicasAgree(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	start := time.Now()
	spread := newRooms(t, f, "spread", 12)
	measured(t, "spread-12-rooms", time.Since(start))
	t.Logf("12 new rooms landed on %v", spread)
	if len(spread) < 2 {
		t.Errorf("12 new rooms all went to one node: %v", spread)
	}
	for node := range spread {
		if f.Node(node) == nil {
			t.Errorf("selector named unknown node %q", node)
		}
	}
	for i := 1; i <= 12; i++ {
		name := fmt.Sprintf("agree-%d", i)
		a := mustRoom(t, f.Selectors[i%2].URL, name)
		b := mustRoom(t, f.Selectors[(i+1)%2].URL, name)
		if a != b {
			t.Errorf("room %s: %s says %s, %s says %s", name, f.Selectors[i%2].Name, a, f.Selectors[(i+1)%2].Name, b)
		}
	}
}

// Scenario 2: load rises on one node; after a scrape and a poll it gets no
// new rooms.
func TestLoadedNodeGetsNoNewRooms(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	hot := f.Nodes[0]
	if err := hot.SetStress(context.Background(), 0.95); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 30*time.Second, hot.ID+" loaded on every selector", func(ctx context.Context) error {
		for _, s := range f.Selectors {
			ns, err := nodes(ctx, s.URL)
			if err != nil {
				return err
			}
			if l := ns[hot.ID].Load; l == nil || *l < 0.8 {
				return fmt.Errorf("%s: %s load %v", s.Name, hot.ID, l)
			}
		}
		return nil
	})
	measured(t, "load-rise-visible", took)
	got := newRooms(t, f, "after-load", 12)
	if got[hot.ID] > 0 {
		t.Errorf("%s (stress 0.95) still got %d of 12 new rooms: %v", hot.ID, got[hot.ID], got)
	}
}

// Scenario 3: drain a node (SIGTERM to its sidecar): no new rooms within
// 0.5 s; its existing room stays bound; it deregisters once its meetings end.
func TestDrain(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	sel := f.Selectors[0].URL
	bound := mustRoom(t, sel, "drain-me")
	n := f.Node(bound)
	conf, err := n.StartConference(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.DrainSidecar(); err != nil {
		t.Fatal(err)
	}
	took := waitState(t, f, n.ID, draining, 10*time.Second)
	measured(t, "drain-no-new-rooms", took)
	if took > time.Second { // twice the 0.5 s goal
		t.Errorf("drain took %v to be visible, want at most 1s (twice the 0.5s goal)", took)
	}
	if got := newRooms(t, f, "while-draining", 10); got[n.ID] > 0 {
		t.Errorf("draining %s got %d new rooms", n.ID, got[n.ID])
	}
	for _, s := range f.Selectors {
		if got := mustRoom(t, s.URL, "drain-me"); got != n.ID {
			ns, _ := nodes(context.Background(), s.URL)
			t.Errorf("%s moved the bound room drain-me from draining %s to %s; it shows %s as %+v", s.Name, n.ID, got, n.ID, ns[n.ID])
		}
	}
	select {
	case <-n.SidecarDone():
		t.Fatal("sidecar exited while its meeting was still running")
	default:
	}
	if err := n.EndConference(context.Background(), conf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitState(t, f, n.ID, "", 30*time.Second)
	measured(t, "drain-deregistered-after-last-meeting", time.Since(start))
	select {
	case <-n.SidecarDone():
	case <-time.After(10 * time.Second):
		t.Error("sidecar still running 10s after its node left the fleet")
	}
	if got := mustRoom(t, sel, "drain-me"); got == n.ID {
		t.Errorf("room drain-me still sent to deregistered %s", n.ID)
	}
}

// Scenario 4: SIGKILL a sidecar: the node leaves selection within the check
// interval + 1 s.
func TestKilledSidecar(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	n := f.Nodes[1]
	if err := n.KillSidecar(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 30*time.Second, n.ID+" out of selection", func(ctx context.Context) error {
		return notEligible(ctx, f, n.ID)
	})
	measured(t, "sidecar-killed-out-of-selection", took)
	if limit := 2 * (testTiming().CheckInterval + time.Second); took > limit {
		t.Errorf("killed node left selection after %v, want at most %v (twice the goal, check interval + 1s)", took, limit)
	}
	if got := newRooms(t, f, "after-kill", 10); got[n.ID] > 0 {
		t.Errorf("killed %s got %d new rooms", n.ID, got[n.ID])
	}
}

// notEligible checks that no selector offers node id for new rooms.
func notEligible(ctx context.Context, f *fleet.Fleet, id string) error {
	for _, s := range f.Selectors {
		ns, err := nodes(ctx, s.URL)
		if err != nil {
			return err
		}
		if ns[id].State == eligible {
			return fmt.Errorf("%s: %s still eligible", s.Name, id)
		}
	}
	return nil
}

// Scenario 5: the JVB hangs: health fails, the node leaves selection, and
// comes back once the JVB answers again.
func TestHungJVB(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	n := f.Nodes[0]
	if err := n.SetFault(context.Background(), "hang"); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 30*time.Second, n.ID+" out of selection", func(ctx context.Context) error {
		return notEligible(ctx, f, n.ID)
	})
	measured(t, "jvb-hung-out-of-selection", took)
	if err := n.SetFault(context.Background(), "none"); err != nil {
		t.Fatal(err)
	}
	measured(t, "jvb-recovered-back-in-selection", waitState(t, f, n.ID, eligible, 30*time.Second))
}

// Scenario 6: the Consul agent stops: selectors answer from their last
// snapshot up to the staleness limit, then 503 and not ready; once Consul is
// back the sidecars re-register and the selectors recover, none restarted.
func TestConsulDown(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	sel := f.Selectors[0].URL
	before := mustRoom(t, sel, "through-outage")
	if err := f.Consul.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	staleness := testTiming().MaxStaleness
	// Within the staleness limit users still get answers: the fleet view
	// from the last snapshot, and the node their room is bound to.
	t.Run("snapshot-served-within-staleness", func(t *testing.T) {
		for time.Since(stopped) < staleness/2 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ns, err := nodes(ctx, sel)
			cancel()
			if err != nil {
				t.Fatalf("%.1fs after Consul stopped: %v", time.Since(stopped).Seconds(), err)
			}
			if len(ns) != len(f.Nodes) {
				t.Fatalf("%.1fs after Consul stopped the view has %d of %d nodes", time.Since(stopped).Seconds(), len(ns), len(f.Nodes))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("bound-room-served-within-staleness", func(t *testing.T) {
		if time.Since(stopped) > staleness-time.Second {
			t.Fatal("too late to check: the staleness limit is near")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got, err := room(ctx, sel, "through-outage")
		if err != nil {
			t.Fatalf("%.1fs after Consul stopped, the bound room gets %v", time.Since(stopped).Seconds(), err)
		}
		if got != before {
			t.Fatalf("bound room moved from %s to %s while Consul was down", before, got)
		}
	})
	waitFor(t, staleness+20*time.Second, "503 catalog_stale once the snapshot is stale", func(ctx context.Context) error {
		for _, s := range f.Selectors {
			code, body, err := get(ctx, s.URL+"/api/v1/rooms/stale-room")
			if err != nil {
				return err
			}
			if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"catalog_stale"`) {
				return fmt.Errorf("%s: status %d %.100s", s.Name, code, body)
			}
			if code, err := status(ctx, s.URL+"/-/ready"); err != nil || code == http.StatusOK {
				return fmt.Errorf("%s: /-/ready %d %v", s.Name, code, err)
			}
			if code, err := status(ctx, s.URL+"/api/v1/nodes"); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s: /api/v1/nodes %d %v", s.Name, code, err)
			}
		}
		return nil
	})
	took := time.Since(stopped)
	measured(t, "consul-down-to-503", took)
	// The limit counts from the last answer of a blocking query, which may
	// predate the stop by up to its wait time.
	if took < staleness-2*time.Second {
		t.Errorf("selectors gave up after %v, before the staleness limit %v", took, staleness)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.Consul.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if err := f.WaitPassing(ctx, len(f.Nodes)); err != nil {
		t.Fatalf("sidecars did not re-register: %v", err)
	}
	measured(t, "consul-back-sidecars-registered", time.Since(restarted))
	waitFor(t, 30*time.Second, "selectors ready again", func(ctx context.Context) error {
		for _, s := range f.Selectors {
			if code, err := status(ctx, s.URL+"/-/ready"); err != nil || code != http.StatusOK {
				return fmt.Errorf("%s: /-/ready %d %v", s.Name, code, err)
			}
			if _, err := room(ctx, s.URL, "after-outage"); err != nil {
				return err
			}
		}
		return nil
	})
	measured(t, "consul-back-selectors-recovered", time.Since(restarted))
}

// Scenario 7: Prometheus stops: selectors keep answering in degraded mode
// (metric + log), and recover when it is back.
func TestPrometheusDown(t *testing.T) {
	f := startFleet(t, nil)
	waitSettled(t, f)
	if err := f.StopPrometheus(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	took := waitFor(t, 30*time.Second, "selectors degraded", func(ctx context.Context) error {
		return degraded(ctx, f, true)
	})
	measured(t, "prometheus-down-degraded", took)
	got := newRooms(t, f, "degraded", 6)
	t.Logf("rooms placed without Prometheus (%.1fs after it stopped): %v", time.Since(stopped).Seconds(), got)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.StartPrometheus(ctx); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, 60*time.Second, "selectors out of degraded mode", func(ctx context.Context) error {
		return degraded(ctx, f, false)
	})
	measured(t, "prometheus-back-recovered", took)
}

// degradedMetric{reason="load"} is 1 while a selector places rooms without
// load data.
const degradedMetric = "ensemble_selector_degraded"

// degraded checks that every selector says it is (or is not) degraded for
// lack of load data, both on /metrics and in GET /api/v1/nodes.
func degraded(ctx context.Context, f *fleet.Fleet, want bool) error {
	for _, s := range f.Selectors {
		v, err := metric(ctx, s.URL+"/metrics", degradedMetric, map[string]string{"reason": "load"})
		if err != nil {
			return err
		}
		if (v > 0) != want {
			return fmt.Errorf("%s: %s = %v", s.Name, degradedMetric, v)
		}
		fv, err := view(ctx, s.URL)
		if err != nil {
			return err
		}
		if slices.Contains(fv.Degraded, "load") != want {
			return fmt.Errorf("%s: /api/v1/nodes degraded = %v", s.Name, fv.Degraded)
		}
	}
	return nil
}

// Scenario 8: a three-server Consul cluster loses its leader: a new one is
// elected and the selectors and sidecars carry on.
func TestConsulLeaderKilled(t *testing.T) {
	f := startFleet(t, func(o *fleet.Options) { o.ConsulServers = 3 })
	waitSettled(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, err := f.Cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if leader == f.Consul {
		t.Fatal("the fleet's agent is the leader; the fleet should have picked a follower")
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	next, err := f.Cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	measured(t, "consul-leader-killed-new-leader", time.Since(killed))
	t.Logf("leader %s killed, %s elected", leader.NodeName, next.NodeName)
	if next == leader {
		t.Fatal("the killed server is still the leader")
	}
	if got := newRooms(t, f, "new-leader", 6); len(got) == 0 {
		t.Fatal("no rooms placed after the leader change")
	}
	if err := f.WaitPassing(ctx, len(f.Nodes)); err != nil {
		t.Fatalf("sidecars lost their registration: %v", err)
	}
	waitSettled(t, f)
	measured(t, "consul-leader-killed-fleet-whole", time.Since(killed))
}

// The demo's supervisor: its synthetic load makes meetings start on the
// nodes the selectors name, and Stop leaves nothing listening, so a second
// fleet starts at once.
func TestDemoLoadAndCleanStop(t *testing.T) {
	f := startFleet(t, func(o *fleet.Options) { o.Load = 5 })
	took := waitFor(t, 60*time.Second, "meetings on at least two nodes", func(ctx context.Context) error {
		busy := 0
		for _, n := range f.Nodes {
			var st struct {
				Conferences []json.RawMessage `json:"conferences"`
			}
			code, b, err := get(ctx, n.EmulatorURL+"/emulator/state")
			if err != nil {
				return err
			}
			if code != http.StatusOK {
				return fmt.Errorf("%s state: %d", n.ID, code)
			}
			if err := json.Unmarshal(b, &st); err != nil {
				return fmt.Errorf("%s state: %w", n.ID, err)
			}
			if len(st.Conferences) > 0 {
				busy++
			}
		}
		if busy < 2 {
			return fmt.Errorf("%d nodes have meetings", busy)
		}
		return nil
	})
	measured(t, "demo-load-meetings-on-two-nodes", took)

	urls := []string{f.Selectors[0].URL, f.Selectors[1].URL, f.PrometheusURL(), "http://" + f.ConsulAddr()}
	for _, n := range f.Nodes {
		urls = append(urls, n.EmulatorURL, n.SidecarURL(), n.PublicURL)
	}
	dir := f.Dir()
	start := time.Now()
	f.Stop()
	stopped := time.Since(start)
	measured(t, "fleet-stop", stopped)
	if stopped > 10*time.Second {
		t.Errorf("stopping the fleet took %v", stopped)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fleet directory %s left behind: %v", dir, err)
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", u.Port()), time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Stop", raw)
		}
	}
	again := startFleet(t, func(o *fleet.Options) { o.Nodes = 1 })
	if _, err := room(context.Background(), again.Selectors[0].URL, "second-run"); err != nil {
		t.Errorf("second fleet: %v", err)
	}
}
