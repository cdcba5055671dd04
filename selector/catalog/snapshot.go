package catalog

import (
	"sort"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Snapshot is one immutable view of the fleet. It is shared between goroutines and never modified after
// it is published, so readers need no lock.
type Snapshot struct {
	// Nodes is sorted by ID.
	Nodes []Node
	// Index is Consul's X-Consul-Index of the result.
	Index uint64
}

// Node returns the node with the given ID.
func (s *Snapshot) Node(id string) (Node, bool) {
	if s == nil {
		return Node{}, false
	}
	i := sort.Search(len(s.Nodes), func(i int) bool { return s.Nodes[i].ID >= id })
	if i < len(s.Nodes) && s.Nodes[i].ID == id {
		return s.Nodes[i], true
	}
	return Node{}, false
}

// Count returns how many nodes are in each state.
func (s *Snapshot) Count(st placement.State) int {
	if s == nil {
		return 0
	}
	n := 0
	for i := range s.Nodes {
		if s.Nodes[i].State == st {
			n++
		}
	}
	return n
}
