package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Ranges bounds what DrawDay draws. DefaultRanges gives the full ranges docs/placement.md
// documents; a smaller MaxNodes or MaxDay keeps a run cheap.
type Ranges struct {
	MinNodes, MaxNodes int           // fleet size, log-uniform
	MinDay, MaxDay     time.Duration // day length, uniform in whole hours
	MinLoad, MaxLoad   float64       // busiest hour's mean CPU demand of the fleet
}

// DefaultRanges are the generator's full ranges: 10 to 1,000 nodes, days of 4 to 16 hours, a
// busiest hour at 60 to 90 % of the fleet's CPUs.
func DefaultRanges() Ranges {
	return Ranges{MinNodes: 10, MaxNodes: 1000, MinDay: 4 * time.Hour, MaxDay: 16 * time.Hour, MinLoad: 0.6, MaxLoad: 0.9}
}

// Validate reports ranges the generator cannot draw from.
func (r Ranges) Validate() error {
	if r.MinNodes < 1 || r.MaxNodes < r.MinNodes || r.MinDay < time.Hour || r.MaxDay < r.MinDay ||
		!(r.MinLoad > 0) || r.MaxLoad < r.MinLoad {
		return fmt.Errorf("drawn-day ranges need 1 <= min nodes <= max nodes, 1h <= min day <= max day, 0 < min load <= max load: %+v", r)
	}
	return nil
}

// The families a drawn day mixes. Room names start with the family's name, so a trace says which
// family each meeting came from.
const (
	FamilyOffice  = "office"  // independent small meetings around two office peaks (always present)
	FamilyClasses = "class"   // classes opening together just after the top of the hour
	FamilyCalls   = "call"    // long family calls around an evening peak
	FamilyWebinar = "webinar" // webinar-size rooms
	FamilyFlash   = "flash"   // flash crowds: many meetings opening within a minute or two
)

// Family is one kind of meeting in a drawn day, with its drawn parameters. Times are fractions of
// the day unless they are durations.
type Family struct {
	Name   string
	Weight float64 // meetings of this family per office meeting
	// Sizes: office, calls and flash crowds draw P(n) ∝ n^-Alpha on [2, 100] (Alpha 0 for
	// others); classes and webinars draw uniformly in [SizeMin, SizeMax].
	Alpha            float64
	SizeMin, SizeMax int
	Duration         time.Duration // median (log-normal, σ 0.5) or exact (classes ± 2 min)
	Spread           time.Duration // participants join over this
	// Peaks are arrival peaks (office: two; calls: one); Width their standard deviation.
	Peaks []float64
	Width float64
	// Crowds are the flash crowds' times; Within is how long each takes to open.
	Crowds []float64
	Within time.Duration
	// Hours is the share of the day's hours that have classes.
	Hours float64
}

// DrawnDay is a day shape drawn by DrawDay: a random mix of meeting families on a day of random
// length and a fleet of random size, served by 1-3 selector replicas.
type DrawnDay struct {
	Seed     uint64
	Nodes    int
	Replicas int
	Day      time.Duration
	MeanLoad float64
	Families []Family
	// Variant draws another day of the same shape: other meetings, the same families with the same
	// parameters and the classes on the same hours (a weekday like the last). 0 is the day itself.
	Variant uint64
}

// stream is the seed of the day's random meetings and joins.
func (d DrawnDay) stream() uint64 { return d.Seed ^ d.Variant*0x9e3779b97f4a7c15 }

// Name is a short label: the seed and the families present.
func (d DrawnDay) Name() string {
	names := make([]string, len(d.Families))
	for i, f := range d.Families {
		names[i] = f.Name
	}
	return fmt.Sprintf("d%d-%s", d.Seed, strings.Join(names, "+"))
}

// Has reports whether the day mixes in the named family.
func (d DrawnDay) Has(name string) bool {
	return slices.ContainsFunc(d.Families, func(f Family) bool { return f.Name == name })
}

func uniform(u *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*u.Float64() }

func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// DrawDay draws a day shape from seed within r. The office family is always present; each other
// family is present with probability 1/2, and at least one of them is.
func DrawDay(seed uint64, r Ranges) DrawnDay {
	u := rand.New(rand.NewPCG(seed, 0x647261776e))
	d := DrawnDay{Seed: seed}
	d.Nodes = int(math.Round(math.Exp(uniform(u, math.Log(float64(r.MinNodes)), math.Log(float64(r.MaxNodes))))))
	d.Nodes = max(r.MinNodes, min(r.MaxNodes, d.Nodes))
	d.Replicas = 1 + u.IntN(3)
	hours := int(r.MinDay.Hours()) + u.IntN(int(r.MaxDay.Hours())-int(r.MinDay.Hours())+1)
	d.Day = time.Duration(hours) * time.Hour
	d.MeanLoad = uniform(u, r.MinLoad, r.MaxLoad)
	office := Family{Name: FamilyOffice, Weight: 1, Alpha: uniform(u, 2.2, 2.9), Duration: minutes(uniform(u, 20, 45)),
		Spread: minutes(uniform(u, 1, 5)), Peaks: []float64{uniform(u, 0.1, 0.4), uniform(u, 0.5, 0.85)}, Width: uniform(u, 0.05, 0.15)}
	d.Families = append(d.Families, office)
	present := make([]bool, 4)
	for i := range present {
		present[i] = u.Float64() < 0.5
	}
	if !slices.Contains(present, true) {
		present[u.IntN(4)] = true
	}
	if present[0] {
		lo := 10 + u.IntN(21)
		d.Families = append(d.Families, Family{Name: FamilyClasses, Weight: uniform(u, 0.01, 0.08), SizeMin: lo, SizeMax: lo + 5 + u.IntN(21),
			Duration: minutes(uniform(u, 40, 55)), Spread: minutes(uniform(u, 2, 8)), Hours: uniform(u, 0.3, 1)})
	}
	if present[1] {
		d.Families = append(d.Families, Family{Name: FamilyCalls, Weight: uniform(u, 0.05, 0.4), Alpha: uniform(u, 2.5, 3.5),
			Duration: minutes(uniform(u, 60, 150)), Spread: minutes(uniform(u, 2, 10)), Peaks: []float64{uniform(u, 0.6, 0.95)}, Width: uniform(u, 0.04, 0.12)})
	}
	if present[2] {
		lo := 35 + u.IntN(16)
		d.Families = append(d.Families, Family{Name: FamilyWebinar, Weight: uniform(u, 0.002, 0.01), SizeMin: lo, SizeMax: lo + u.IntN(66-lo),
			Duration: minutes(uniform(u, 45, 90)), Spread: minutes(uniform(u, 3, 10))})
	}
	if present[3] {
		crowds := make([]float64, 1+u.IntN(3))
		for i := range crowds {
			crowds[i] = uniform(u, 0.05, 0.9)
		}
		slices.Sort(crowds)
		d.Families = append(d.Families, Family{Name: FamilyFlash, Weight: uniform(u, 0.005, 0.05) * float64(len(crowds)), Alpha: office.Alpha,
			Duration: office.Duration, Spread: office.Spread, Crowds: crowds, Within: minutes(uniform(u, 0.5, 2))})
	}
	return d
}

// drawnLateJoin is the share of participants who join at any time during the meeting.
const drawnLateJoin = 0.05

// meetings draws the day's meetings: per office meeting scale, Weight·scale meetings of each
// family. Each family draws from its own stream, meeting by meeting, so a higher scale keeps every
// meeting and adds new ones (the load calibration relies on it).
func (d DrawnDay) meetings(scale float64) []drawnMeeting {
	day := d.Day.Seconds()
	sizes := map[float64][]float64{}
	var out []drawnMeeting
	for fi, f := range d.Families {
		u := rand.New(rand.NewPCG(d.stream(), 0x66616d696c79+uint64(fi)))
		n := int(math.Round(f.Weight * scale))
		if f.Alpha > 0 && sizes[f.Alpha] == nil {
			sizes[f.Alpha] = sizeTable(f.Alpha, 100)
		}
		for range n {
			m := meeting{dur: f.Duration.Seconds() * math.Exp(0.5*u.NormFloat64()), spread: f.Spread.Seconds()}
			if f.Alpha > 0 {
				m.size = 2 + searchCDF(sizes[f.Alpha], u.Float64())
			} else {
				m.size = f.SizeMin + u.IntN(f.SizeMax-f.SizeMin+1)
			}
			switch f.Name {
			case FamilyOffice, FamilyCalls:
				p := f.Peaks[u.IntN(len(f.Peaks))]
				if u.Float64() < 0.15 { // a floor of meetings all day
					m.start = day * u.Float64()
				} else {
					m.start = day * math.Mod(math.Abs(p+f.Width*u.NormFloat64()), 1)
				}
			case FamilyClasses:
				hours := max(1, int(d.Day.Hours()*f.Hours))
				// Classes take the first hours of a permutation of the day's hours drawn from
				// the seed alone, so every class of an hour opens with the others.
				hour := rand.New(rand.NewPCG(d.Seed, 0x686f7572)).Perm(int(d.Day.Hours()))[u.IntN(hours)]
				m.start = float64(hour)*3600 + 90*u.Float64()
				m.dur = f.Duration.Seconds() + 240*(u.Float64()-0.5)
			case FamilyWebinar:
				m.start = math.Floor(u.Float64()*day/1800) * 1800
			case FamilyFlash:
				m.start = day*f.Crowds[u.IntN(len(f.Crowds))] + f.Within.Seconds()*u.Float64()
			}
			out = append(out, drawnMeeting{family: f.Name, meeting: m})
		}
	}
	return out
}

type drawnMeeting struct {
	family string
	meeting
}

// participants turns meetings into a trace: the organiser opens the room, the others join over
// the spread (a few at any time), everyone leaves at the end. The trace ends with the day:
// nobody joins after it, and whoever is still there leaves when it ends.
func (d DrawnDay) participants(ms []drawnMeeting) []Participant {
	u := rand.New(rand.NewPCG(d.stream(), 0x6a6f696e))
	end := d.Day.Seconds()
	var ps []Participant
	for i, m := range ms {
		room := fmt.Sprintf("%s-%06d", m.family, i+1)
		for k := range m.size {
			join := m.start
			switch late, v := u.Float64() < drawnLateJoin, u.Float64(); {
			case k == 0:
			case late:
				join += 0.9 * m.dur * v
			default:
				join += min(m.spread, 0.9*m.dur) * v
			}
			if join < end-1 {
				ps = append(ps, Participant{Room: room, Join: seconds(join), Leave: seconds(min(end, m.start+m.dur))})
			}
		}
	}
	return ps
}

// Trace returns the day's participants, with the number of meetings scaled so that the busiest
// hour's mean CPU demand on o's fleet of d.Nodes nodes (o.VCPUs, o.Cost) is d.MeanLoad (within 3 %).
func (d DrawnDay) Trace(o Options) ([]Participant, error) {
	o.Nodes, o.Day = d.Nodes, d.Day
	scale := 100.0 * float64(d.Nodes) // a pilot; demand grows with the scale
	var ps []Participant
	for range 6 {
		ps = d.participants(d.meetings(scale))
		w, err := newWorkload(ps)
		if err != nil {
			return nil, err
		}
		got, _ := offered(o, w)
		if got <= 0 {
			return nil, fmt.Errorf("drawn day %d puts no load on the fleet", d.Seed)
		}
		if math.Abs(got-d.MeanLoad) <= 0.03*d.MeanLoad {
			break
		}
		scale *= d.MeanLoad / got
	}
	return ps, nil
}
