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
// that cannot see each other's; replicas that do not know herd onto the same emptiest nodes.
func TestReplicaShares(t *testing.T) {
	const nodes, replicas, rooms = 30, 3, 30
	loads := make([]float64, nodes)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range loads {
		loads[i] = 0.2 + 0.4*r.Float64()
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
