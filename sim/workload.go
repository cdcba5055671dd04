package sim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Participant is one person's visit to a meeting: the room they ask the selector for and when they
// join and leave, counted from the start of the day.
type Participant struct {
	Room        string
	Join, Leave time.Duration
}

// A shape is a day's form: the relative meeting arrival rate at fraction x of the day, and a
// rewrite of some meetings (start, size, duration, join spread) drawn from the shape's own random
// stream, one draw per meeting in meeting order, so that a higher load keeps every meeting's fate.
type shape struct {
	about string
	curve func(x float64) float64
	// meeting may change a meeting that would start at start (seconds) on a day of day seconds.
	meeting func(u *rand.Rand, day float64, m *meeting)
	// day is the length the curve's hours are written for (0: any working day).
	day time.Duration
}

// meeting is one generated meeting before its participants are drawn.
type meeting struct {
	start, dur, spread float64 // seconds
	size               int
}

func gauss(x, mu, sigma float64) float64 { d := (x - mu) / sigma; return math.Exp(-d * d / 2) }

// office is a floor plus a morning peak (about 10:30 in a 09:00-17:00 day) and a slightly lower,
// wider afternoon peak (about 14:30), with the lunch dip between them.
func office(x float64) float64 { return 0.15 + gauss(x, 0.19, 0.11) + 0.85*gauss(x, 0.69, 0.13) }

// morningPeak is where office peaks, as a fraction of the day.
const morningPeak = 0.19

// weekday is a whole 24-hour working day: a near-empty night, office peaks at about 10:30 and
// 14:30, and smaller evening calls at about 20:30, on a 24-hour day (Run warns on another length).
// It is the day on which an autoscaled fleet can save, since the night needs a few nodes.
func weekday(x float64) float64 {
	const h = 1.0 / 24
	return 0.02 + gauss(x, 10.5*h, 1.2*h) + 0.85*gauss(x, 14.5*h, 1.5*h) + 0.25*gauss(x, 20.5*h, 1.2*h)
}

// shapes are the day shapes the generator knows. Each stresses placement differently; none is
// tuned to a policy (docs/placement.md keeps tuning and evaluation seeds apart).
var shapes = map[string]shape{
	"office": {about: "two office peaks, small meetings arriving independently", curve: office},
	// Classes: 4 % of meetings are classes of 20-35 people that start within 90 s after the top
	// of the hour, run 50 minutes and fill in 5 minutes; every hour's classes open together.
	"classes": {about: "office day plus classes of 20-35 opening together on the hour", curve: office,
		meeting: func(u *rand.Rand, day float64, m *meeting) {
			if u.Float64() >= 0.04 {
				return
			}
			hour := math.Min(math.Floor(m.start/3600), math.Floor(day/3600)-1)
			m.start = math.Max(0, hour)*3600 + 90*u.Float64()
			m.size = 20 + u.IntN(16)
			m.dur = 50*60 + 120*u.Float64()
			m.spread = 5 * 60
		}},
	// Flash crowd: 2 % of the day's meetings (a few hundred at 80 % load) open within one minute
	// at the morning peak, on top of the peak's own traffic.
	"flash": {about: "office day plus 2 % of the meetings opening within 60 s at the morning peak", curve: office,
		meeting: func(u *rand.Rand, day float64, m *meeting) {
			if u.Float64() >= 0.02 {
				return
			}
			m.start = morningPeak*day + 60*u.Float64()
		}},
	// Plateau: a one-hour ramp, then a flat rate for the rest of the day: hours near the busiest
	// hour's load instead of one peak.
	"weekday": {about: "a 24-hour day (use --day 24h): a near-empty night, office peaks and evening calls", curve: weekday,
		day: 24 * time.Hour},
	"plateau": {about: "a flat rate all day after a short ramp, so most hours sit at the busiest hour's load",
		curve: func(x float64) float64 { return 0.05 + math.Min(1, x/0.12) }},
}

// Shapes returns the names of the day shapes, sorted.
func Shapes() []string {
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ShapeHelp describes each shape, for a command's help text.
func ShapeHelp() string {
	var b strings.Builder
	for i, n := range Shapes() {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", n, shapes[n].about)
	}
	return b.String()
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
	reshape := rand.New(rand.NewPCG(seed, 0x7368617065))
	sh := shapes[o.Shape]
	inv := inverseCumulative(sh.curve)
	day := o.Day.Seconds()
	perDay := o.Rooms * load
	sizes := sizeTable(o.SizeAlpha, o.MaxSize)
	w := &workload{}
	for s := arrivals.ExpFloat64(); s < perDay; s += arrivals.ExpFloat64() {
		m := meeting{start: day * inv(s/perDay), spread: o.JoinSpread.Seconds()}
		room := int32(len(w.rooms))
		w.rooms = append(w.rooms, fmt.Sprintf("m%07d", room+1))
		m.size = 2 + searchCDF(sizes, attrs.Float64())
		m.dur = o.DurationMedian.Seconds() * math.Exp(o.DurationSigma*attrs.NormFloat64())
		if sh.meeting != nil {
			sh.meeting(reshape, day, &m)
		}
		for k := range m.size {
			join := m.start
			switch late, u := attrs.Float64() < o.LateJoin, attrs.Float64(); {
			case k == 0: // the organiser opens the room
			case late:
				join += 0.9 * m.dur * u
			default: // short meetings compress the spread so nobody joins after the end
				join += min(m.spread, 0.9*m.dur) * u
			}
			w.parts = append(w.parts, part{room: room, join: seconds(join), leave: seconds(m.start + m.dur)})
		}
	}
	slices.SortFunc(w.parts, byJoin)
	return w
}

// inverseCumulative returns Λ⁻¹ for the normalised cumulative arrival curve Λ(x) = ∫₀ˣ curve / ∫₀¹
// curve, by linear interpolation in a table.
func inverseCumulative(curve func(float64) float64) func(float64) float64 {
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
	rooms  []string // canonical room names
	parts  []part   // sorted by join time
	region []uint8  // home region of each room (0: r1, 1: r2), nil with one region
}

// generateDay draws the day of every region: with two, r2's day is a second draw from its own
// seed, shifted by RegionShift (meetings pushed past the end of the day are not replayed).
func generateDay(o Options, load float64) *workload {
	w := generate(o, load, o.Seed)
	if o.Regions != 2 {
		return w
	}
	b := generate(o, load, o.Seed^0x7232)
	offset := int32(len(w.rooms))
	w.region = make([]uint8, len(w.rooms), len(w.rooms)+len(b.rooms))
	for _, name := range b.rooms {
		w.rooms = append(w.rooms, "r2-"+name)
		w.region = append(w.region, 1)
	}
	for _, p := range b.parts {
		p.room += offset
		p.join += o.RegionShift
		p.leave += o.RegionShift
		w.parts = append(w.parts, p)
	}
	slices.SortFunc(w.parts, byJoin)
	return w
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
