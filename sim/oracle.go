package sim

import "github.com/ensemble-jitsi/ensemble/selector/placement"

// oracle is least-loaded under its own name, run on the true, instant load without pending
// correction, plus what only the simulator knows: how many participants each room will get. A
// new room reserves its eventual cost on its node, and each arrival turns its share into demand.
// No online policy has that knowledge, so the oracle is the floor the tables are read against.
type oracle struct{ placement.LeastLoaded }

func (oracle) Name() string { return OraclePolicy }

// book keeps the oracle's reservation of room rm (index room) current when one of its participants
// arrives at node k holding c of them: the first arrival reserves the room's eventual cost, each
// later one turns its share of the reservation into demand.
func (r *run) book(rm *room, room int32, k int32, c int) {
	if !rm.booked {
		rm.booked, rm.resNode = true, k
		rm.reserved = max(0, r.o.Cost.Of(int(r.size[room]))-r.o.Cost.Of(1))
		r.nodes[k].reserved += rm.reserved
		r.dirty = true
		return
	}
	take := min(rm.reserved, r.o.Cost.Join(c))
	rm.reserved -= take
	r.nodes[rm.resNode].reserved = max(0, r.nodes[rm.resNode].reserved-take)
}
