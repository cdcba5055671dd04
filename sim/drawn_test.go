package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// small keeps the drawn traces cheap: fleets of 10-30 nodes, days of 4-6 hours.
func smallDraw() Ranges {
	r := DefaultRanges()
	r.MaxNodes, r.MaxDay = 30, 6*time.Hour
	return r
}

func TestDrawDayDeterministic(t *testing.T) {
	o := DefaultOptions()
	for _, seed := range []uint64{1, 7} {
		a, b := DrawDay(seed, smallDraw()), DrawDay(seed, smallDraw())
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two draws differ:\n%+v\n%+v", seed, a, b)
		}
		ta, err := a.Trace(o)
		if err != nil {
			t.Fatal(err)
		}
		tb, _ := b.Trace(o)
		if !reflect.DeepEqual(ta, tb) {
			t.Fatalf("seed %d: two traces differ", seed)
		}
	}
	if reflect.DeepEqual(DrawDay(1, smallDraw()), DrawDay(2, smallDraw())) {
		t.Fatal("seeds 1 and 2 drew the same day")
	}
}

// TestDrawDayRanges draws many days and checks every parameter against the documented ranges,
// and that each family turns up in some days and not in others.
func TestDrawDayRanges(t *testing.T) {
	r := DefaultRanges()
	seen := map[string]int{}
	in := func(seed uint64, what string, v, lo, hi float64) {
		t.Helper()
		if v < lo || v > hi {
			t.Errorf("seed %d: %s = %v, want in [%v, %v]", seed, what, v, lo, hi)
		}
	}
	const days = 400
	for seed := uint64(1); seed <= days; seed++ {
		d := DrawDay(seed, r)
		in(seed, "nodes", float64(d.Nodes), 10, 1000)
		in(seed, "replicas", float64(d.Replicas), 1, 3)
		in(seed, "day hours", d.Day.Hours(), 4, 16)
		in(seed, "mean load", d.MeanLoad, 0.6, 0.9)
		if d.Day != d.Day.Truncate(time.Hour) {
			t.Errorf("seed %d: day %v is not whole hours", seed, d.Day)
		}
		if len(d.Families) < 2 || d.Families[0].Name != FamilyOffice {
			t.Errorf("seed %d: families %v: want office first and at least one other", seed, d.Name())
		}
		for _, f := range d.Families {
			seen[f.Name]++
			m := f.Duration.Minutes()
			switch f.Name {
			case FamilyOffice:
				in(seed, "office alpha", f.Alpha, 2.2, 2.9)
				in(seed, "office duration", m, 20, 45)
			case FamilyClasses:
				in(seed, "class weight", f.Weight, 0.01, 0.08)
				in(seed, "class min size", float64(f.SizeMin), 10, 30)
				in(seed, "class size span", float64(f.SizeMax-f.SizeMin), 5, 25)
				in(seed, "class hours", f.Hours, 0.3, 1)
			case FamilyCalls:
				in(seed, "call duration", m, 60, 150)
				in(seed, "call peak", f.Peaks[0], 0.6, 0.95)
			case FamilyWebinar:
				in(seed, "webinar min size", float64(f.SizeMin), 35, 50)
				in(seed, "webinar max size", float64(f.SizeMax), float64(f.SizeMin), 65)
			case FamilyFlash:
				in(seed, "crowds", float64(len(f.Crowds)), 1, 3)
				in(seed, "crowd weight", f.Weight/float64(len(f.Crowds)), 0.005, 0.05)
				in(seed, "crowd opening", f.Within.Seconds(), 30, 120)
			default:
				t.Errorf("seed %d: unknown family %q", seed, f.Name)
			}
		}
	}
	for _, f := range []string{FamilyClasses, FamilyCalls, FamilyWebinar, FamilyFlash} {
		if seen[f] < days/4 || seen[f] > days*3/4 {
			t.Errorf("family %s in %d of %d days, want about half", f, seen[f], days)
		}
	}
	if bad := (Ranges{MinNodes: 10, MaxNodes: 5, MinDay: time.Hour, MaxDay: time.Hour, MinLoad: 0.5, MaxLoad: 0.5}); bad.Validate() == nil {
		t.Error("Validate accepted max nodes below min nodes")
	}
}

// seedWith returns the first seed whose small day has family name.
func seedWith(t *testing.T, name string) DrawnDay {
	t.Helper()
	for seed := uint64(1); seed < 100; seed++ {
		if d := DrawDay(seed, smallDraw()); d.Has(name) {
			return d
		}
	}
	t.Fatalf("no seed below 100 draws %s", name)
	return DrawnDay{}
}

// TestDrawnFamiliesPresent checks that a drawn family really is in the trace, with its signature:
// classes open within 90 s after the top of an hour with their drawn sizes, a flash crowd opens
// its meetings within its minute or two, webinars have their drawn sizes; and that the trace
// loads the fleet as drawn.
func TestDrawnFamiliesPresent(t *testing.T) {
	o := DefaultOptions()
	for _, name := range []string{FamilyClasses, FamilyFlash, FamilyWebinar, FamilyCalls} {
		d := seedWith(t, name)
		var f Family
		for _, g := range d.Families {
			if g.Name == name {
				f = g
			}
		}
		ps, err := d.Trace(o)
		if err != nil {
			t.Fatal(err)
		}
		type room struct {
			open time.Duration
			size int
		}
		rooms := map[string]*room{}
		for _, p := range ps {
			if !strings.HasPrefix(p.Room, name+"-") {
				continue
			}
			r := rooms[p.Room]
			if r == nil {
				r = &room{open: p.Join}
				rooms[p.Room] = r
			}
			r.open = min(r.open, p.Join)
			r.size++
		}
		if len(rooms) < 2 {
			t.Fatalf("%s: %d meetings of the family in the trace of %s", name, len(rooms), d.Name())
		}
		for id, r := range rooms {
			switch name {
			case FamilyClasses:
				if off := r.open % time.Hour; off > 90*time.Second {
					t.Errorf("%s opens %v after the hour", id, off)
				}
				if r.size > f.SizeMax {
					t.Errorf("%s has %d participants, drawn at most %d", id, r.size, f.SizeMax)
				}
			case FamilyWebinar:
				if r.size > f.SizeMax {
					t.Errorf("%s has %d participants, drawn at most %d", id, r.size, f.SizeMax)
				}
			case FamilyFlash:
				near := false
				for _, c := range f.Crowds {
					at := time.Duration(c * float64(d.Day))
					near = near || (r.open >= at-time.Second && r.open <= at+f.Within+time.Second)
				}
				if !near {
					t.Errorf("%s opens at %v, outside every crowd %v (within %v)", id, r.open, f.Crowds, f.Within)
				}
			}
		}
		w, err := newWorkload(ps)
		if err != nil {
			t.Fatal(err)
		}
		o.Nodes, o.Day = d.Nodes, d.Day
		if got, _ := offered(o, w); math.Abs(got-d.MeanLoad) > 0.03*d.MeanLoad {
			t.Errorf("%s: busiest hour at %.3f, drawn %.3f", d.Name(), got, d.MeanLoad)
		}
	}
}

// TestExecuteDrawnDay runs ensemble-sim's --draw.seed path: the drawn fleet, day and name reach
// the report, the drawn replica count applies unless the caller keeps its own, and bad ranges are
// a scenario error.
func TestExecuteDrawnDay(t *testing.T) {
	o := DefaultOptions()
	o.Policies, o.Oracle = []string{"best-of-d"}, false
	d := DrawDay(3, smallDraw())
	for _, keep := range []bool{false, true} {
		var out bytes.Buffer
		o.Replicas = 3
		c := Command{Options: o, DrawSeed: 3, DrawRanges: smallDraw(), KeepReplicas: keep, Format: "json", Stdout: &out, Stderr: io.Discard}
		if err := Execute(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		var rep struct{ Scenario Scenario }
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		want := d.Replicas
		if keep {
			want = 3
		}
		s := rep.Scenario
		if s.Name != d.Name() || s.Nodes != d.Nodes || s.SimulatedDuration != d.Day || s.Replicas != want {
			t.Errorf("keep %v: scenario %+v, want %s, %d nodes, %v, %d replicas", keep, s, d.Name(), d.Nodes, d.Day, want)
		}
	}
	bad := smallDraw()
	bad.MaxNodes = 5
	c := Command{Options: o, DrawSeed: 3, DrawRanges: bad, Stdout: io.Discard, Stderr: io.Discard}
	if err := Execute(context.Background(), c); !errors.Is(err, ErrScenario) {
		t.Errorf("max nodes below min nodes: got %v, want a scenario error", err)
	}
	c = Command{Options: o, DrawSeed: 3, DrawRanges: smallDraw(), TraceFile: "testdata/none.csv", Stdout: io.Discard, Stderr: io.Discard}
	if err := Execute(context.Background(), c); !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "give one") {
		t.Errorf("a drawn day and a trace: got %v, want a scenario error saying to give one", err)
	}
}

// classDay returns a small drawn day with classes and the options that replay it with policy alone
// (no oracle row).
func classDay(t *testing.T, policy string) (DrawnDay, Options) {
	t.Helper()
	d := DrawDay(seedWith(t, FamilyClasses).Seed, smallDraw())
	o := DefaultOptions()
	o.Policies, o.Nodes, o.Day, o.Seed, o.Oracle = []string{policy}, d.Nodes, d.Day, d.Seed, false
	var err error
	if o.Trace, err = d.Trace(o); err != nil {
		t.Fatal(err)
	}
	return d, o
}

// TestSizeHistory checks that the size-history experiment reaches the policies (best-of-d places
// differently with it) and leaves the oracle alone (it already knows every room's size).
func TestSizeHistory(t *testing.T) {
	_, o := classDay(t, "best-of-d")
	o.Oracle = true
	plain := simulate(t, o)
	o.SizeHistory = true
	hist := simulate(t, o)
	if reflect.DeepEqual(result(t, plain, "best-of-d"), result(t, hist, "best-of-d")) {
		t.Error("best-of-d gave the same result with and without the size history")
	}
	if a, b := result(t, plain, OraclePolicy), result(t, hist, OraclePolicy); !reflect.DeepEqual(a, b) {
		t.Errorf("the oracle changed with the size history:\n%+v\n%+v", a, b)
	}
}

// TestReplicaSharesReachPolicies checks that the replicas are told their positions
// (Options.Shares): with three replicas least-loaded places differently with and without shares.
func TestReplicaSharesReachPolicies(t *testing.T) {
	_, o := classDay(t, "least-loaded")
	o.Replicas, o.Shares = 3, true
	shares := result(t, simulate(t, o), "least-loaded")
	o.Shares = false
	if blind := result(t, simulate(t, o), "least-loaded"); reflect.DeepEqual(shares, blind) {
		t.Error("three replicas placed the same with and without shares")
	}
}
