package sim

// eventKind tells a queued participant event apart: a departure, a reconnection after the crash,
// or the planned departure of a participant turned away at the ceiling (the end of their unserved
// demand). Queued events at the same time run in the order they were queued.
type eventKind uint8

const (
	evLeave eventKind = iota
	evRejoin
	evAwayLeave
)

type event struct {
	t    int64
	seq  uint64
	kind eventKind
	part int32
}

// eventHeap is a 4-ary min-heap of events by time, then queue order. It is typed rather than
// container/heap's interface: boxing each event in an interface allocated once per participant,
// and a 4-ary heap halves the depth, so a pop touches fewer cache lines of a queue that holds every
// participant present (hundreds of thousands on a 10,000-node fleet).
type eventHeap []event

func (e event) before(f event) bool { return e.t < f.t || e.t == f.t && e.seq < f.seq }

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !e.before(q[parent]) {
			break
		}
		q[i] = q[parent]
		i = parent
	}
	q[i] = e
}

// pop removes and returns the earliest event; the heap must not be empty.
func (h *eventHeap) pop() event {
	q := *h
	top := q[0]
	last := q[len(q)-1]
	q = q[:len(q)-1]
	*h = q
	if len(q) == 0 {
		return top
	}
	i := 0
	for {
		first := 4*i + 1
		if first >= len(q) {
			break
		}
		best := first
		for c := first + 1; c < min(first+4, len(q)); c++ {
			if q[c].before(q[best]) {
				best = c
			}
		}
		if !q[best].before(last) {
			break
		}
		q[i] = q[best]
		i = best
	}
	q[i] = last
	return top
}
