package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Participant is one person's visit to a meeting: the room they ask the selector for and when they
// join and leave, counted from the start of the day.
type Participant struct {
	Room        string
	Join, Leave time.Duration
}

// curve is the relative meeting arrival rate at fraction x of the working day: a floor plus a
// morning peak (about 10:30 in a 09:00-17:00 day) and a slightly lower, wider afternoon peak
// (about 14:30), with the lunch dip between them.
func curve(x float64) float64 {
	g := func(mu, sigma float64) float64 { d := (x - mu) / sigma; return math.Exp(-d * d / 2) }
	return 0.15 + g(0.19, 0.11) + 0.85*g(0.69, 0.13)
}

// curveSteps is the resolution of the numeric integral and maximum of curve.
const curveSteps = 4096

// generate draws a day of meetings: arrivals from a non-homogeneous Poisson process following
// curve, heavy-tailed sizes, log-normal durations, participants joining over the first minutes (a
// few later). It returns the workload indexed for replay.
//
// Arrivals use time rescaling: the i-th point S_i of a unit-rate Poisson process arrives when the
// cumulative expected count Rooms·load·Λ(t/Day) reaches S_i. Meeting attributes come from a
// second stream drawn in meeting order. So raising load keeps every meeting (same size, duration
// and joins), brings it earlier and adds new ones: the offered demand grows smoothly with load,
// which is what MeanLoad's calibration relies on.
func generate(o Options, load float64, seed uint64) *workload {
	arrivals := rand.New(rand.NewPCG(seed, 0x617272697661))
	attrs := rand.New(rand.NewPCG(seed, 0x6d656574696e67))
	inv := inverseCumulative()
	day := o.Day.Seconds()
	perDay := o.Rooms * load
	sizes := sizeTable(o.SizeAlpha, o.MaxSize)
	w := &workload{}
	for s := arrivals.ExpFloat64(); s < perDay; s += arrivals.ExpFloat64() {
		start := day * inv(s/perDay)
		room := int32(len(w.rooms))
		w.rooms = append(w.rooms, fmt.Sprintf("m%07d", room+1))
		n := 2 + searchCDF(sizes, attrs.Float64())
		dur := o.DurationMedian.Seconds() * math.Exp(o.DurationSigma*attrs.NormFloat64())
		for k := range n {
			join := start
			switch late, u := attrs.Float64() < o.LateJoin, attrs.Float64(); {
			case k == 0: // the organiser opens the room
			case late:
				join += 0.9 * dur * u
			default: // short meetings compress the spread so nobody joins after the end
				join += min(o.JoinSpread.Seconds(), 0.9*dur) * u
			}
			w.parts = append(w.parts, part{room: room, join: seconds(join), leave: seconds(start + dur)})
		}
	}
	slices.SortFunc(w.parts, byJoin)
	return w
}

// inverseCumulative returns Λ⁻¹ for the normalised cumulative arrival curve Λ(x) = ∫₀ˣ curve / ∫₀¹
// curve, by linear interpolation in a table.
func inverseCumulative() func(float64) float64 {
	cum := make([]float64, curveSteps+1)
	for i := range curveSteps {
		cum[i+1] = cum[i] + curve((float64(i)+0.5)/curveSteps)
	}
	total := cum[curveSteps]
	for i := range cum {
		cum[i] /= total
	}
	return func(y float64) float64 {
		i, _ := slices.BinarySearch(cum, y)
		i = max(1, min(i, curveSteps))
		lo, hi := cum[i-1], cum[i]
		f := 0.0
		if hi > lo {
			f = (y - lo) / (hi - lo)
		}
		return (float64(i-1) + f) / curveSteps
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// sizeTable is the cumulative distribution of a truncated power law P(n) ∝ n^-alpha over
// n = 2..maxSize; entry i is P(n ≤ i+2). With alpha 2.5, 84 % of meetings have 2-5 people and
// about 2 % have 20 or more.
func sizeTable(alpha float64, maxSize int) []float64 {
	cdf := make([]float64, maxSize-1)
	sum := 0.0
	for n := 2; n <= maxSize; n++ {
		sum += math.Pow(float64(n), -alpha)
		cdf[n-2] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

func searchCDF(cdf []float64, u float64) int {
	i, _ := slices.BinarySearch(cdf, u)
	return min(i, len(cdf)-1)
}

// workload is the participants indexed for replay.
type workload struct {
	rooms []string // canonical room names
	parts []part   // sorted by join time
}

type part struct {
	room        int32
	join, leave time.Duration
}

// newWorkload checks and indexes participants from a trace.
func newWorkload(ps []Participant) (*workload, error) {
	w := &workload{parts: make([]part, len(ps))}
	index := map[string]int32{}
	for i, p := range ps {
		if p.Leave <= p.Join || p.Join < 0 {
			return nil, fmt.Errorf("participant %d in room %q: join %v, leave %v: need 0 <= join < leave", i, p.Room, p.Join, p.Leave)
		}
		r, ok := index[p.Room]
		if !ok {
			r = int32(len(w.rooms))
			index[p.Room] = r
			w.rooms = append(w.rooms, p.Room)
		}
		w.parts[i] = part{room: r, join: p.Join, leave: p.Leave}
	}
	slices.SortFunc(w.parts, byJoin)
	return w, nil
}

// byJoin orders participants for replay. Participants equal in all three fields are
// interchangeable, so an unstable sort is deterministic enough, and much faster than a stable
// one on millions of entries.
func byJoin(a, b part) int {
	return cmp.Or(cmp.Compare(a.join, b.join), cmp.Compare(a.room, b.room), cmp.Compare(a.leave, b.leave))
}
