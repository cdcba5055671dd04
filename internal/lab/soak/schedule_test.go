package soak

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func testPlan(d time.Duration) planOptions {
	return planOptions{
		Duration: d, Warmup: 8 * time.Second, Cooldown: 5 * time.Second,
		Every: 3 * time.Second, MinHold: 2 * time.Second, MaxHold: 8 * time.Second, Reserve: 3 * time.Second,
		Nodes: []string{"node-1", "node-2", "node-3", "node-4"}, Selectors: []string{"selector-1", "selector-2"},
		MaxNodesDown: 2, LongHold: 30 * time.Second, LongEvery: 2 * time.Minute, LongClear: 20 * time.Second,
	}
}

func TestPlanReplays(t *testing.T) {
	o := testPlan(time.Minute)
	a, err := planFaults(42, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := planFaults(42, o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 42 gave two plans:\n%v\n%v", a, b)
	}
	c, err := planFaults(43, o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, c) {
		t.Errorf("seeds 42 and 43 gave the same plan %v", a)
	}
}

// Every plan, for many seeds and both lengths the Makefile runs, has
// every kind of fault, keeps within its window, never runs two faults on
// one lock group at once, and never has more nodes down than allowed.
func TestPlanConstraints(t *testing.T) {
	for d, seeds := range map[time.Duration]uint64{time.Minute: 100, 10 * time.Minute: 10} {
		o := testPlan(d)
		for seed := uint64(1); seed <= seeds; seed++ {
			plan, err := planFaults(seed, o)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[Kind]bool{}
			busy := map[string]time.Duration{}
			var nodeEnds, longEnds []time.Duration
			for _, e := range plan {
				kinds[e.Kind] = true
				if e.At < o.Warmup || e.At+e.Hold > d-o.Cooldown {
					t.Errorf("%v seed %d: %s outside the window", d, seed, e)
				}
				if g := lockOf(e); busy[g] > e.At {
					t.Errorf("%v seed %d: %s starts while %s is busy until %v", d, seed, e, g, busy[g])
				}
				busy[lockOf(e)] = e.At + e.Hold + o.Reserve
				if e.Kind.nodeFault() {
					down, long := 0, 0
					for _, end := range nodeEnds {
						if end > e.At {
							down++
						}
					}
					for _, end := range longEnds {
						if end > e.At {
							long++
						}
					}
					if (e.Hold <= o.MaxHold && down >= o.MaxNodesDown) || down+long >= len(o.Nodes)-1 {
						t.Errorf("%v seed %d: %s starts with %d nodes down and %d in long faults", d, seed, e, down, long)
					}
					if e.Hold > o.MaxHold {
						longEnds = append(longEnds, e.At+e.Hold+o.Reserve)
					} else {
						nodeEnds = append(nodeEnds, e.At+e.Hold+o.Reserve)
					}
				}
			}
			long := 0
			for _, e := range plan {
				if e.Hold != o.LongHold || !slices.Contains(downKinds, e.Kind) {
					continue
				}
				long++
				for _, c := range plan {
					if (c.Kind == ConsulServerKill || c.Kind == ConsulAgentRestart) && c.At < e.At+o.LongClear && e.At < c.At+c.Hold+o.Reserve {
						t.Errorf("%v seed %d: %s during the first %v of the long %s", d, seed, c, o.LongClear, e)
					}
				}
			}
			if want := max(1, int((d-o.Warmup-o.Cooldown)/o.LongEvery)); long < want {
				t.Errorf("%v seed %d: %d long node faults, want %d", d, seed, long, want)
			}
			for _, k := range allKinds {
				if !kinds[k] {
					t.Errorf("%v seed %d: no %s in %v", d, seed, k, plan)
				}
			}
			if d == 10*time.Minute && len(plan) < 100 {
				t.Errorf("seed %d: only %d faults in 10 minutes", seed, len(plan))
			}
		}
	}
}

func TestPlanRejectsBadOptions(t *testing.T) {
	for name, mod := range map[string]func(*planOptions){
		"window too short": func(o *planOptions) { o.Duration = 15 * time.Second },
		"no nodes":         func(o *planOptions) { o.Nodes = nil },
		"no selectors":     func(o *planOptions) { o.Selectors = nil },
		"holds inverted":   func(o *planOptions) { o.MinHold = 9 * time.Second },
		"no pace":          func(o *planOptions) { o.Every = 0 },
		"no node may fail": func(o *planOptions) { o.MaxNodesDown = 0 },
		"no long faults":   func(o *planOptions) { o.LongEvery = 0 },
		"long too long":    func(o *planOptions) { o.LongHold = 50 * time.Second },
		"clear past long":  func(o *planOptions) { o.LongClear = 31 * time.Second },
	} {
		o := testPlan(time.Minute)
		mod(&o)
		if _, err := planFaults(1, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
