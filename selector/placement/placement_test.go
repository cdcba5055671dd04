package placement

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC)) }

func newLedger(t testing.TB, cfg Config, c *testenv.Clock) *Ledger {
	t.Helper()
	f, err := NewLedger(cfg, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type testNode struct {
	ID       string   `json:"id"`
	Load     *float64 `json:"load"`
	State    string   `json:"state"`
	Age      string   `json:"age"`
	Capacity float64  `json:"capacity"`
	Pending  int      `json:"pending"`
}

type pickCase struct {
	Name     string     `json:"name"`
	Nodes    []testNode `json:"nodes"`
	Degraded bool       `json:"degraded"`
	Want     map[string]struct {
		Chosen    []string `json:"chosen"`
		Saturated bool     `json:"saturated"`
		Err       bool     `json:"err"`
	} `json:"want"`
}

func (tn testNode) node(t *testing.T) Node {
	n := Node{ID: tn.ID, URL: "https://" + tn.ID + ".example", Capacity: 4, Load: math.NaN(), Stress: math.NaN()}
	if tn.Capacity != 0 {
		n.Capacity = tn.Capacity
	}
	if tn.Load != nil {
		n.Load = *tn.Load
	}
	if tn.Age != "" {
		d, err := time.ParseDuration(tn.Age)
		if err != nil {
			t.Fatal(err)
		}
		n.Age = d
	}
	switch tn.State {
	case "", "eligible":
	case "draining":
		n.State = Draining
	case "gone":
		n.State = Gone
	default:
		t.Fatalf("bad state %q", tn.State)
	}
	return n
}

// TestPick runs every built-in policy over the cases in testdata/pick.json. A case lists the exact
// set of nodes a policy may choose; over many draws (and many room names) each must be chosen.
func TestPick(t *testing.T) {
	raw, err := os.ReadFile("testdata/pick.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []pickCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	reg := Builtin()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := newClock()
			// The cases' pending figures were worked out for 0.25 CPU per room and no join cost.
			cfg := DefaultConfig()
			cfg.Cost, cfg.JoinCost = 0.25, 0
			f := newLedger(t, cfg, c)
			nodes := make([]Node, len(tc.Nodes))
			for i, tn := range tc.Nodes {
				nodes[i] = tn.node(t)
			}
			s := f.Snapshot(nodes)
			for _, tn := range tc.Nodes {
				i, ok := s.Index(tn.ID)
				if !ok {
					t.Fatalf("node %s missing from snapshot", tn.ID)
				}
				for range tn.Pending {
					s.Assign(i)
				}
			}
			if s.Degraded() != tc.Degraded {
				t.Errorf("Degraded() = %v, want %v", s.Degraded(), tc.Degraded)
			}
			if len(tc.Want) != len(reg.Names()) {
				t.Fatalf("case covers %d policies, registry has %v", len(tc.Want), reg.Names())
			}
			for name, want := range tc.Want {
				p, err := reg.Get(name)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(1, 2))
				seen := map[string]bool{}
				for k := range 400 {
					ch, err := p.Pick(s, fmt.Sprintf("room-%d", k), r)
					if want.Err {
						if !errors.Is(err, ErrNoNode) {
							t.Fatalf("%s: err = %v, want ErrNoNode", name, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if ch.Saturated != want.Saturated {
						t.Fatalf("%s: saturated = %v, want %v", name, ch.Saturated, want.Saturated)
					}
					seen[s.Node(ch.Index).ID] = true
				}
				got := make([]string, 0, len(seen))
				for id := range seen {
					got = append(got, id)
				}
				slices.Sort(got)
				if !want.Err && !slices.Equal(got, want.Chosen) {
					t.Errorf("%s chose %v, want exactly %v", name, got, want.Chosen)
				}
			}
		})
	}
}

// Unassign takes back one assignment of its epoch, and nothing once that epoch has left the window.
func TestUnassign(t *testing.T) {
	c := newClock()
	cfg := DefaultConfig()
	f := newLedger(t, cfg, c)
	s := f.Snapshot([]Node{{ID: "a", Load: 0.1, Capacity: 4}})
	e1 := s.Assign(0)
	s.Assign(0)
	s.Unassign(0, e1)
	if got := s.Pending(0); got != 1 {
		t.Fatalf("pending after one Unassign of two = %d, want 1", got)
	}
	s.Unassign(0, e1)
	s.Unassign(0, e1) // nothing left in that epoch: no underflow
	if got := s.Pending(0); got != 0 {
		t.Fatalf("pending after taking both back = %d, want 0", got)
	}
	old := s.Assign(0)
	c.Advance(2 * cfg.Window)
	now := s.Assign(0)
	s.Unassign(0, old) // expired: must not take back the new one
	if got := s.Pending(0); got != 1 || now == old {
		t.Fatalf("pending = %d after undoing an expired epoch, want 1", got)
	}
}

func TestPendingWindow(t *testing.T) {
	c := newClock()
	cfg := DefaultConfig()
	f := newLedger(t, cfg, c)
	s := f.Snapshot([]Node{{ID: "a", Load: 0.1, Capacity: 4}})
	s.Assign(0)
	s.Assign(0)
	if got, want := s.Score(0), 0.1+2*cfg.Cost/4; math.Abs(got-want) > 1e-12 {
		t.Fatalf("score = %v, want %v", got, want)
	}
	c.Advance(cfg.Window / 2)
	s.Assign(0)
	if got := s.Pending(0); got != 3 {
		t.Fatalf("pending after half a window = %d, want 3", got)
	}
	// A new snapshot of the same node keeps the account.
	s2 := f.Snapshot([]Node{{ID: "a", Load: 0.2, Capacity: 4}})
	if got := s2.Pending(0); got != 3 {
		t.Fatalf("pending in rebuilt snapshot = %d, want 3", got)
	}
	c.Advance(cfg.Window/2 + cfg.Window/pendingBuckets)
	if got := s2.Pending(0); got != 1 {
		t.Fatalf("pending after the first two aged out = %d, want 1", got)
	}
	c.Advance(cfg.Window)
	if got := s2.Pending(0); got != 0 {
		t.Fatalf("pending after a full window = %d, want 0", got)
	}
	if got := s2.Score(0); got != 0.2 {
		t.Fatalf("score without pending = %v, want the reported 0.2", got)
	}
}

func TestSnapshotForgetsDepartedNodes(t *testing.T) {
	c := newClock()
	f := newLedger(t, DefaultConfig(), c)
	s := f.Snapshot([]Node{{ID: "a", Load: 0.1}, {ID: "b", Load: 0.1}})
	s.Assign(1)
	f.Snapshot([]Node{{ID: "a", Load: 0.1}})
	if _, ok := f.accounts["b"]; !ok {
		t.Fatal("account of b dropped while it still had pending assignments")
	}
	c.Advance(2 * f.cfg.Window)
	// Accounts are pruned when the membership changes next.
	f.Snapshot([]Node{{ID: "a", Load: 0.1}, {ID: "c", Load: 0.1}})
	if _, ok := f.accounts["b"]; ok {
		t.Fatal("account of a departed node kept after its pending assignments aged out")
	}
}

func TestSnapshotSortsByID(t *testing.T) {
	f := newLedger(t, DefaultConfig(), newClock())
	in := []Node{{ID: "c"}, {ID: "a"}, {ID: "b"}}
	s := f.Snapshot(in)
	if in[0].ID != "c" {
		t.Fatal("Snapshot modified its input")
	}
	for i, id := range []string{"a", "b", "c"} {
		if s.Node(i).ID != id {
			t.Fatalf("node %d = %s, want %s", i, s.Node(i).ID, id)
		}
	}
}

func TestBoundedHashIsStable(t *testing.T) {
	c := newClock()
	nodes := make([]Node, 50)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("node-%02d", i), Load: 0.3}
	}
	// Two replicas, different pending accounts and input order, same data: same answers.
	s1 := newLedger(t, DefaultConfig(), c).Snapshot(nodes)
	rev := slices.Clone(nodes)
	slices.Reverse(rev)
	s2 := newLedger(t, DefaultConfig(), c).Snapshot(rev)
	for i := range 20 {
		s2.Assign(i)
	}
	before := map[string]string{}
	for k := range 1000 {
		room := fmt.Sprintf("room-%d", k)
		a, _ := BoundedHash{}.Pick(s1, room, nil)
		b, _ := BoundedHash{}.Pick(s2, room, nil)
		if s1.Node(a.Index).ID != s2.Node(b.Index).ID {
			t.Fatalf("replicas disagree on %s", room)
		}
		before[room] = s1.Node(a.Index).ID
	}
	// Removing one node moves only the rooms that were on it.
	s3 := newLedger(t, DefaultConfig(), c).Snapshot(nodes[1:])
	moved := 0
	for room, id := range before {
		ch, _ := BoundedHash{}.Pick(s3, room, nil)
		if got := s3.Node(ch.Index).ID; got != id {
			if id != nodes[0].ID {
				t.Fatalf("%s moved from %s to %s although %s stayed", room, id, got, id)
			}
			moved++
		}
	}
	if moved == 0 {
		t.Fatal("no room was on the removed node: the hash does not spread")
	}
}

func TestRegistry(t *testing.T) {
	r := Builtin()
	if want := []string{"best-of-d", "bounded-hash", "least-loaded", "most-free-cpu", "p2c", "random"}; !slices.Equal(r.Names(), want) {
		t.Fatalf("names = %v, want %v", r.Names(), want)
	}
	if _, err := r.Get(DefaultPolicy); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("nope"); err == nil {
		t.Fatal("unknown policy accepted")
	}
	if _, err := NewRegistry(P2C{}, P2C{}); err == nil {
		t.Fatal("duplicate policy accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"zero high-water", func(c *Config) { c.HighWater = 0 }},
		{"NaN high-water", func(c *Config) { c.HighWater = math.NaN() }},
		{"zero max age", func(c *Config) { c.MaxAge = 0 }},
		{"tiny window", func(c *Config) { c.Window = 1 }},
		{"negative cost", func(c *Config) { c.Cost = -1 }},
		{"infinite epsilon", func(c *Config) { c.Epsilon = math.Inf(1) }},
		{"negative join cost", func(c *Config) { c.JoinCost = -0.1 }},
		{"too many choices", func(c *Config) { c.Choices = 65 }},
		{"negative replicas", func(c *Config) { c.Replicas = -1 }},
		{"position beyond the replicas", func(c *Config) { c.Replicas, c.Replica = 2, 3 }},
		{"negative position", func(c *Config) { c.Replicas, c.Replica = 2, -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mod(&cfg)
			if _, err := NewLedger(cfg, time.Now); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestP2CSaturated: once a scan finds a large fleet saturated, p2c samples instead of scanning, still
// prefers the less loaded nodes, and scans again once the pending epoch has moved on.
func TestP2CSaturated(t *testing.T) {
	c := newClock()
	cfg := DefaultConfig()
	cfg.Cost = 0.25
	f := newLedger(t, cfg, c)
	const n = 4 * maxExactScan
	nodes := make([]Node, n)
	for i := range nodes {
		// 0.50 .. 0.75 reported; 8 pending rooms (+0.5) put every node over the mark.
		nodes[i] = Node{ID: fmt.Sprintf("node-%03d", i), Load: 0.5 + 0.25*float64(i)/n, Capacity: 4, Age: time.Second}
	}
	s := f.Snapshot(nodes)
	for i := range n {
		for range 8 {
			s.Assign(i)
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	first, err := P2C{}.Pick(s, "first", r)
	if err != nil || !first.Saturated || first.Index != 0 {
		t.Fatalf("first pick = %+v, %v; want the least loaded node 0, saturated", first, err)
	}
	lower, upper := 0, 0
	seen := map[int]bool{}
	for k := range 2000 {
		ch, err := P2C{}.Pick(s, fmt.Sprintf("room-%d", k), r)
		if err != nil || !ch.Saturated {
			t.Fatalf("pick %d = %+v, %v; want saturated", k, ch, err)
		}
		seen[ch.Index] = true
		if ch.Index < n/2 {
			lower++
		} else {
			upper++
		}
	}
	// Sampling spreads the rooms instead of piling them on the scan's single winner, and the lowest
	// of eight draws is in the less loaded half but for 1 pick in 256.
	if len(seen) < n/8 || upper*20 > lower {
		t.Fatalf("saturated picks: %d distinct nodes, %d on the less loaded half vs %d", len(seen), lower, upper)
	}
	// A window later the pending rooms have aged out: p2c is back to picks under the mark.
	c.Advance(cfg.Window)
	if ch, err := (P2C{}).Pick(s, "later", r); err != nil || ch.Saturated || s.Score(ch.Index) >= cfg.HighWater {
		t.Fatalf("after the window: %+v, %v (score %v)", ch, err, s.Score(ch.Index))
	}
}

// TestJoinAccount: every join adds JoinCost/capacity to the node's score for one window, scaled by
// the replicas sharing the fleet; room and join accounts add up.
func TestJoinAccount(t *testing.T) {
	for _, tc := range []struct {
		replicas    int
		rooms, join int
		want        float64
	}{
		{0, 0, 3, 0.2 + 3*0.06/4},
		{1, 1, 3, 0.2 + (0.1+3*0.06)/4},
		{3, 1, 3, 0.2 + 3*(0.1+3*0.06)/4},
	} {
		c := newClock()
		cfg := DefaultConfig()
		cfg.Replicas = tc.replicas
		f := newLedger(t, cfg, c)
		s := f.Snapshot([]Node{{ID: "a", Load: 0.2, Capacity: 4}})
		for range tc.rooms {
			s.Assign(0)
		}
		for range tc.join {
			s.Join(0)
		}
		if got := s.Score(0); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("replicas %d, %d rooms, %d joins: score %v, want %v", tc.replicas, tc.rooms, tc.join, got, tc.want)
		}
		if s.PendingJoins(0) != tc.join || s.Pending(0) != tc.rooms {
			t.Errorf("pending %d rooms, %d joins", s.Pending(0), s.PendingJoins(0))
		}
		c.Advance(cfg.Window)
		if got := s.Score(0); got != 0.2 {
			t.Errorf("after the window: score %v, want the reported 0.2", got)
		}
	}
}

// TestBestOfDSpreadsBurst: a burst of classes (20 people, 1.3 CPU each once all have joined) onto
// unevenly loaded nodes before the data moves, when only the first two joins of each class have
// reached the selector. The highest eventual node load under best-of-d is lower than under p2c,
// whose random pairs stack classes on the pair's better but still busy node.
func TestBestOfDSpreadsBurst(t *testing.T) {
	const nodes, rooms, class = 100, 150, 1.3 / 4
	peak := func(p Policy) float64 {
		f := newLedger(t, DefaultConfig(), newClock())
		ns := make([]Node, nodes)
		load := make([]float64, nodes)
		r := rand.New(rand.NewPCG(7, 7))
		for i := range ns {
			load[i] = 0.1 + 0.5*r.Float64()
			ns[i] = Node{ID: fmt.Sprintf("n%03d", i), Load: load[i], Capacity: 4}
		}
		s := f.Snapshot(ns)
		for k := range rooms {
			ch, err := p.Pick(s, fmt.Sprint(k), r)
			if err != nil {
				t.Fatal(err)
			}
			s.Assign(ch.Index)
			s.Join(ch.Index)
			s.Join(ch.Index)
			load[ch.Index] += class
		}
		return slices.Max(load)
	}
	b, p := peak(BestOfD{}), peak(P2C{})
	t.Logf("highest eventual node load: best-of-d %.2f, p2c %.2f", b, p)
	if b >= p {
		t.Fatalf("best-of-d peaks at %.2f, p2c at %.2f: want best-of-d lower", b, p)
	}
}

// TestDesiredNodes: demand in CPUs over the target load of a serving node, draining nodes' load
// counted but not their CPUs, unknown loads ignored, gone nodes left out, at least one per region.
func TestDesiredNodes(t *testing.T) {
	n := func(id, region string, load, capacity float64, st State) Node {
		return Node{ID: id, Region: region, Load: load, Capacity: capacity, State: st}
	}
	got := DesiredNodes([]Node{
		// eu: 4 × 4 CPUs at 0.8 = 12.8 CPUs in use; one draining at 0.5 adds 2 CPUs: 14.8 / (4 × 0.64) = 5.78 → 6.
		n("eu-1", "eu", 0.8, 4, Eligible), n("eu-2", "eu", 0.8, 4, Eligible), n("eu-3", "eu", 0.8, 4, Eligible),
		n("eu-4", "eu", 0.8, 4, Eligible), n("eu-5", "eu", 0.5, 4, Draining), n("eu-6", "eu", math.NaN(), 4, Eligible),
		n("eu-7", "eu", 0.9, 4, Gone),
		// us: idle, still one node.
		n("us-1", "us", 0.01, 8, Eligible), n("us-2", "us", 0, 8, Eligible),
		// ap: only a draining node at 0.7 of 4 CPUs: 2.8 / 2.56 → 2 replacements.
		n("ap-1", "ap", 0.7, 4, Draining),
	}, 0.8, DefaultHeadroom)
	want := []Capacity{
		{Region: "ap", Serving: 0, Leaving: 1, Desired: 2, Demand: 2.8, NodeCPUs: 4},
		{Region: "eu", Serving: 5, Leaving: 1, Desired: 6, Demand: 14.8, NodeCPUs: 4},
		{Region: "us", Serving: 2, Leaving: 0, Desired: 1, Demand: 0.08, NodeCPUs: 8},
	}
	near := func(a, b Capacity) bool {
		return a.Region == b.Region && a.Serving == b.Serving && a.Leaving == b.Leaving && a.Desired == b.Desired &&
			math.Abs(a.Demand-b.Demand) < 1e-9 && a.NodeCPUs == b.NodeCPUs
	}
	if !slices.EqualFunc(got, want, near) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}
