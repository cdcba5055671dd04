package soak

import (
	"reflect"
	"testing"
	"time"
)

func planOptions(d time.Duration) PlanOptions {
	return PlanOptions{
		Duration: d, Warmup: 8 * time.Second, Cooldown: 5 * time.Second,
		Every: 3 * time.Second, MinHold: 2 * time.Second, MaxHold: 8 * time.Second, Reserve: 3 * time.Second,
		Nodes: []string{"node-1", "node-2", "node-3", "node-4"}, Selectors: []string{"selector-1", "selector-2"},
		MaxNodesDown: 2,
	}
}

func TestPlanReplays(t *testing.T) {
	o := planOptions(time.Minute)
	a, err := Plan(42, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Plan(42, o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 42 gave two plans:\n%v\n%v", a, b)
	}
	c, err := Plan(43, o)
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
		o := planOptions(d)
		for seed := uint64(1); seed <= seeds; seed++ {
			plan, err := Plan(seed, o)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[Kind]bool{}
			busy := map[string]time.Duration{}
			var nodeEnds []time.Duration
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
					down := 0
					for _, end := range nodeEnds {
						if end > e.At {
							down++
						}
					}
					if down >= o.MaxNodesDown {
						t.Errorf("%v seed %d: %s starts with %d nodes down", d, seed, e, down)
					}
					nodeEnds = append(nodeEnds, e.At+e.Hold+o.Reserve)
				}
			}
			for _, k := range Kinds {
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
	for name, mod := range map[string]func(*PlanOptions){
		"window too short": func(o *PlanOptions) { o.Duration = 15 * time.Second },
		"no nodes":         func(o *PlanOptions) { o.Nodes = nil },
		"no selectors":     func(o *PlanOptions) { o.Selectors = nil },
		"holds inverted":   func(o *PlanOptions) { o.MinHold = 9 * time.Second },
		"no pace":          func(o *PlanOptions) { o.Every = 0 },
		"no node may fail": func(o *PlanOptions) { o.MaxNodesDown = 0 },
	} {
		o := planOptions(time.Minute)
		mod(&o)
		if _, err := Plan(1, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
