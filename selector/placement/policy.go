package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Rand is the randomness a policy may use. *math/rand/v2.Rand satisfies it (seeded, for the
// simulator and tests; not safe for concurrent use), and so does SystemRand.
type Rand interface {
	// IntN returns a uniform integer in [0, n); n > 0.
	IntN(n int) int
}

// SystemRand draws from math/rand/v2's global generator, which is safe for concurrent use and
// does not allocate: the right Rand for the selector's request handlers.
type SystemRand struct{}

// IntN implements Rand.
func (SystemRand) IntN(n int) int { return rand.IntN(n) }

// Choice is a policy's answer: the index of the chosen node in the Snapshot and whether the fleet
// is saturated (the chosen node is at or above the high-water mark because every eligible node is).
type Choice struct {
	Index     int
	Saturated bool
}

// ErrNoNode means no node can take a new room: none is eligible with usable data.
var ErrNoNode = errors.New("no eligible node")

// Policy chooses the node for a new room. Implementations must be safe for concurrent use and
// must not keep the Snapshot.
type Policy interface {
	// Name is the policy's registered name, as given to --selector.policy.
	Name() string
	// Pick chooses a node for room among s's eligible nodes.
	Pick(s *Snapshot, room string, r Rand) (Choice, error)
}

// DefaultPolicy is the name of the policy the selector uses unless told otherwise.
const DefaultPolicy = "best-of-d"

// Registry maps policy names to policies. It is a value built by the caller, so tests and
// programs can register their own policies without touching shared state.
type Registry struct {
	byName map[string]Policy
}

// NewRegistry returns a registry holding ps; names must be unique and non-empty.
func NewRegistry(ps ...Policy) (*Registry, error) {
	r := &Registry{byName: make(map[string]Policy, len(ps))}
	for _, p := range ps {
		if p.Name() == "" {
			return nil, fmt.Errorf("placement: policy %T has an empty name", p)
		}
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("placement: policy %q registered twice", p.Name())
		}
		r.byName[p.Name()] = p
	}
	return r, nil
}

// Builtin returns a new registry with the built-in policies.
func Builtin() *Registry {
	r, err := NewRegistry(MostFreeCPU{}, LeastLoaded{}, P2C{}, BestOfD{}, BoundedHash{}, Random{})
	if err != nil {
		panic(err) // the built-in names are constants; a clash is a programming error
	}
	return r
}

// Get returns the policy registered as name.
func (r *Registry) Get(name string) (Policy, error) {
	p, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown placement policy %q (known: %v)", name, r.Names())
	}
	return p, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
