package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// replicaBurst runs a burst of new rooms through replicas selectors that share nothing but the
// fleet (each has its own Ledger, as deployed replicas do), the load balancer alternating between
// them, within one data interval. position(i) is what replica i is told (Config.Replica).
func replicaBurst(t *testing.T, p Policy, loads []float64, replicas, rooms int, position func(int) int) (snaps []*Snapshot, byReplica [][]int) {
	t.Helper()
	c := newClock()
	nodes := make([]Node, len(loads))
	for i, l := range loads {
		nodes[i] = Node{ID: fmt.Sprintf("node-%02d", i), Load: l, Capacity: 4, Age: 5 * time.Second}
	}
	byReplica = make([][]int, replicas)
	for i := range replicas {
		cfg := DefaultConfig()
		cfg.Replicas, cfg.Replica = replicas, position(i)
		snaps = append(snaps, newLedger(t, cfg, c).Snapshot(nodes))
		byReplica[i] = make([]int, len(nodes))
	}
	r := rand.New(rand.NewPCG(5, 9))
	for k := range rooms {
		i := k % replicas
		ch, err := p.Pick(snaps[i], fmt.Sprintf("burst-%d", k), r)
		if err != nil {
			t.Fatal(err)
		}
		snaps[i].Assign(ch.Index)
		byReplica[i][ch.Index]++
		c.Advance(50 * time.Millisecond)
	}
	return snaps, byReplica
}

// TestReplicaShares: replicas that know their positions give a burst of new rooms to disjoint
// nodes, each to its own share (every Replicas-th node), so no node gets a room from two replicas
// that cannot see each other's; replicas that do not know herd onto the same emptiest nodes. The
// loads differ by less than shareSlack, so no node outside a share is worth leaving it for.
func TestReplicaShares(t *testing.T) {
	const nodes, replicas, rooms = 30, 3, 30
	loads := make([]float64, nodes)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range loads {
		loads[i] = 0.3 + 0.1*r.Float64()
	}
	for _, p := range []Policy{LeastLoaded{}, BestOfD{}} {
		t.Run(p.Name(), func(t *testing.T) {
			_, told := replicaBurst(t, p, loads, replicas, rooms, func(i int) int { return i + 1 })
			for k := range nodes {
				for i := range replicas {
					if told[i][k] > 0 && k%replicas != i {
						t.Errorf("replica %d gave node %d, outside its share, %d rooms", i+1, k, told[i][k])
					}
				}
			}
			_, blind := replicaBurst(t, p, loads, replicas, rooms, func(int) int { return 0 })
			shared := 0
			for k := range nodes {
				from := 0
				for i := range replicas {
					if blind[i][k] > 0 {
						from++
					}
				}
				if from > 1 {
					shared++
				}
			}
			t.Logf("without positions %d nodes got rooms from more than one replica", shared)
			if p.Name() == "least-loaded" && shared == 0 {
				t.Error("replicas without positions did not herd: the test no longer shows what shares prevent")
			}
		})
	}
}

// TestReplicaShareFull: once every node of a replica's share is at the high-water mark, the
// replica places new rooms on the rest of the fleet instead of stacking them on its share.
func TestReplicaShareFull(t *testing.T) {
	loads := []float64{0.85, 0.3, 0.4, 0.9, 0.5, 0.35} // replica 1's share (nodes 0, 2, 4 of 2) is 0.85, 0.4, 0.5
	for _, p := range []Policy{LeastLoaded{}, BestOfD{}} {
		t.Run(p.Name(), func(t *testing.T) {
			snaps, per := replicaBurst(t, p, loads, 2, 2, func(i int) int { return i + 1 })
			if per[0][2] != 1 {
				t.Fatalf("replica 1's first room went to %v, not to node 2, the emptiest of its share", per[0])
			}
			// Fill replica 1's share: node 0 is over the mark; push 2 and 4 over it.
			for range 40 {
				snaps[0].Join(2)
				snaps[0].Join(4)
			}
			ch, err := p.Pick(snaps[0], "after", rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if ch.Index%2 == 0 || ch.Saturated {
				t.Fatalf("with its share full replica 1 picked node %d (saturated %v), not a node of the other share", ch.Index, ch.Saturated)
			}
		})
	}
}

// TestReplicaShareSlack: a replica leaves its share for a node more than shareSlack emptier (the
// share of a replica that is down fills with the rest of the fleet), and only for one.
func TestReplicaShareSlack(t *testing.T) {
	for _, tc := range []struct {
		other float64 // load of the other share's nodes; replica 1's share is at 0.5
		out   bool
	}{
		{0.2, true},
		{0.4, false},
	} {
		loads := make([]float64, 20)
		for i := range loads {
			loads[i] = 0.5
			if i%2 == 1 {
				loads[i] = tc.other
			}
		}
		for _, p := range []Policy{LeastLoaded{}, BestOfD{}} {
			_, per := replicaBurst(t, p, loads, 2, 1, func(i int) int { return i + 1 })
			out := false
			for k, n := range per[0] {
				out = out || n > 0 && k%2 == 1
			}
			if out != tc.out {
				t.Errorf("%s, other share at %.1f against 0.5: left the share %v, want %v", p.Name(), tc.other, out, tc.out)
			}
		}
	}
}
