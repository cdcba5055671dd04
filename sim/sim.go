package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// ErrScenario is wrapped by Run's errors about the Options themselves (as opposed to a failed run).
var ErrScenario = errors.New("scenario")

// Scenario summarises the workload all policies were given.
type Scenario struct {
	Name     string `json:"name"`
	Shape    string `json:"shape"` // "trace" for a trace
	Seed     uint64 `json:"seed"`
	Replicas int    `json:"replicas"`
	// DataPath says what the selector saw: "zero-delay", or the scrape, rule evaluation, rate
	// window and poll intervals.
	DataPath     string  `json:"data_path"`
	Load         float64 `json:"load_factor"` // arrival-rate factor used (after MeanLoad calibration)
	Meetings     int     `json:"meetings"`
	Participants int     `json:"participants"`
	// PeakParticipants (concurrent, sampled each minute) and BusiestHourLoad (mean fleet CPU
	// demand ratio over the busiest hour) describe the offered load: every participant admitted.
	PeakParticipants  int           `json:"peak_participants"`
	BusiestHourLoad   float64       `json:"busiest_hour_load"`
	Nodes             int           `json:"nodes"`
	SimulatedDuration time.Duration `json:"simulated_ns"`
}

// Result is one policy's outcome.
type Result struct {
	Policy string `json:"policy"`
	// NodeMinutesOver90 is the time nodes spent with CPU demand above 90 % of their CPUs, counting
	// as demand on a node the participants it turned away at the ceiling, until their planned
	// leave (or until the node crashed or was removed): a policy does not look less overloaded for
	// refusing people. NodeMinutesOver90Served counts only the demand the nodes served.
	NodeMinutesOver90       float64 `json:"node_minutes_over_90"`
	NodeMinutesOver90Served float64 `json:"node_minutes_over_90_served"`
	// PeakNodeLoad is the highest CPU demand ratio any node reached; PeakOverMean divides it by
	// the busiest hour's mean fleet demand, so 1 would be a perfectly even fleet.
	PeakNodeLoad float64 `json:"peak_node_load"`
	PeakOverMean float64 `json:"peak_over_mean"`
	// P99NodeLoad is the 99th percentile of node demand ratios sampled each minute.
	P99NodeLoad float64 `json:"p99_node_load"`
	// RoomsSplit counts rooms whose participants were on two nodes at once (must be 0).
	RoomsSplit int `json:"rooms_split"`
	// MeetingsRefused counts meetings whose first participant got no node or a node over the
	// ceiling; JoinsRefused counts every participant turned away (a participant turned away
	// twice counts twice).
	MeetingsRefused int `json:"meetings_refused"`
	JoinsRefused    int `json:"joins_refused"`
	// UnservedMinutes is the participant-minutes lost to refused joins: from the refusal to the
	// participant's planned leave, or to their retry after a crash.
	UnservedMinutes float64 `json:"unserved_participant_minutes"`
	// RoomsMovedByCrash counts rooms rebound to another node after their node crashed.
	RoomsMovedByCrash int `json:"rooms_moved_by_crash"`
	// SaturatedDecisions counts placements made while every eligible node was over the mark.
	SaturatedDecisions int `json:"saturated_decisions"`
	// With two regions: RoomsSpilled counts new rooms placed in the other region because the home
	// region was saturated, RemoteJoins the participants served by a node outside their region.
	RoomsSpilled int `json:"rooms_spilled"`
	RemoteJoins  int `json:"remote_joins"`
	// NodeHours is the node time paid for: serving, booting and draining nodes (sampled each minute).
	NodeHours float64 `json:"node_hours"`
	// Series holds each node's CPU demand ratio each minute when Options.Series is set.
	Series [][]float32 `json:"-"`

	warnings []string
}

// OraclePolicy names the oracle's row: least-loaded on the true, instant load, no pending
// correction.
const OraclePolicy = "oracle"

// Report is a simulation's output.
type Report struct {
	Scenario Scenario
	Results  []Result
	// Warnings are things the reader of the results must know: a cut trace, an empty fleet.
	Warnings []string
}

// Run generates (or takes from Options.Trace) one day of meetings and replays it once per policy,
// policies in parallel. The same Options give the same Report.
func Run(ctx context.Context, o Options) (*Report, error) {
	var warnings []string
	if o.Trace != nil {
		var last time.Duration
		for _, p := range o.Trace {
			last = max(last, p.Leave)
		}
		if o.Day == 0 {
			o.Day = (last + time.Minute - 1).Truncate(time.Minute)
		}
		if o.Day < last {
			cut, rooms := 0, map[string]bool{}
			for _, p := range o.Trace {
				if p.Join >= o.Day {
					cut++
					rooms[p.Room] = true
				}
			}
			warnings = append(warnings, fmt.Sprintf("the trace runs to %v but the day ends at %v: %d participants (%d meetings opened or joined after the end) are not replayed; leave --day unset to replay it all",
				last, o.Day, cut, len(rooms)))
		}
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if d := shapes[o.Shape].day; o.Trace == nil && d != 0 && o.Day != d {
		warnings = append(warnings, fmt.Sprintf("the %s shape is a %gh day; a day of %gh stretches or squeezes its hours (set --day %gh)", o.Shape, d.Hours(), o.Day.Hours(), d.Hours()))
	}
	load := o.Load
	if o.Trace == nil && o.MeanLoad > 0 {
		var err error
		if load, err = calibrate(o); err != nil {
			return nil, err
		}
	}
	var w *workload
	if o.Trace != nil {
		var err error
		if w, err = newWorkload(o.Trace); err != nil {
			return nil, err
		}
	} else {
		w = generateDay(o, load)
	}
	// A small workload's busiest hour depends on a few large meetings, so the pilot's estimate
	// can be off for it; correct against the real draw (demand grows smoothly with load, see
	// generate, so this converges).
	hour, peak := offered(o, w)
	for range 3 {
		if o.Trace != nil || o.MeanLoad <= 0 || math.Abs(hour-o.MeanLoad) <= 0.03*o.MeanLoad || hour <= 0 {
			break
		}
		load *= o.MeanLoad / hour
		w = generateDay(o, load)
		hour, peak = offered(o, w)
	}
	meetings, participants := w.within(o.Day)
	rep := &Report{Scenario: Scenario{
		Name: o.Name, Shape: o.Shape, Seed: o.Seed, Replicas: o.Replicas, DataPath: o.dataPath(),
		Load: load, Meetings: meetings, Participants: participants, PeakParticipants: peak,
		BusiestHourLoad: hour, Nodes: o.Nodes, SimulatedDuration: o.Day,
	}, Warnings: warnings}
	if o.Trace != nil {
		rep.Scenario.Shape = "trace"
	}
	runs := len(o.Policies)
	if o.Oracle {
		runs++
	}
	rep.Results = make([]Result, runs)
	par := o.Parallel
	if par <= 0 {
		par = runs
	}
	var (
		done  atomic.Int64
		total = int64(len(w.parts)) * int64(runs)
		sem   = make(chan struct{}, par)
		wg    sync.WaitGroup
		errs  = make([]error, runs)
	)
	for i := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ro, name := o, placement.Policy(nil)
			if i < len(o.Policies) {
				name, _ = placement.Builtin().Get(o.Policies[i]) // validated
			} else {
				ro.ZeroDelay = true
				name = oracle{}
			}
			r, err := newRun(ro, w, name, &done, total)
			if err != nil {
				errs[i] = err
				return
			}
			rep.Results[i], errs[i] = r.run(ctx)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, r := range rep.Results {
		rep.Warnings = append(rep.Warnings, r.warnings...)
	}
	return rep, nil
}

// dataPath describes the selector's view for the outputs.
func (o Options) dataPath() string {
	if o.ZeroDelay {
		return "zero-delay"
	}
	return fmt.Sprintf("scrape %v eval %v rate %v poll %v", o.Scrape, o.Eval, o.RateWindow, o.Poll)
}

// within counts the meetings and participants that join before the end of the day.
func (w *workload) within(day time.Duration) (meetings, participants int) {
	seen := make([]bool, len(w.rooms))
	for _, p := range w.parts {
		if p.join >= day {
			break // sorted by join
		}
		participants++
		if !seen[p.room] {
			seen[p.room] = true
			meetings++
		}
	}
	return meetings, participants
}

// calibrate returns the arrival-rate factor that gives the busiest hour a mean fleet CPU demand of
// o.MeanLoad. Demand is linear in the arrival rate, so one pilot day of about 50,000 meetings
// (enough to average out the heavy tail of meeting sizes) fixes the factor.
func calibrate(o Options) (float64, error) {
	pilot := 50_000 / o.Rooms
	got, _ := offered(o, generateDay(o, pilot))
	if got <= 0 {
		return 0, errors.New("calibration: the workload puts no load on the fleet")
	}
	return pilot * o.MeanLoad / got, nil
}

// offered returns the mean fleet CPU demand ratio over the busiest hour of a workload and its peak
// concurrent participants (sampled each minute), with every participant present from join to
// leave wherever they are placed. It works room by room (a meeting's cost depends on how many of
// its participants are present), which avoids sorting every event of the day.
func offered(o Options, w *workload) (hour float64, peak int) {
	minutes := int(o.Day/time.Minute) + 1
	// Group participants by room (counting sort).
	start := make([]int32, len(w.rooms)+1)
	for _, p := range w.parts {
		start[p.room+1]++
	}
	for i := range w.rooms {
		start[i+1] += start[i]
	}
	byRoom := make([]int32, len(w.parts))
	next := slices.Clone(start[:len(w.rooms)])
	for i, p := range w.parts {
		byRoom[next[p.room]] = int32(i)
		next[p.room]++
	}
	type ev struct {
		t     time.Duration
		delta int
	}
	demand := make([]float64, minutes)
	people := make([]int, minutes)
	var evs []ev
	for r := range w.rooms {
		evs = evs[:0]
		for _, i := range byRoom[start[r]:start[r+1]] {
			evs = append(evs, ev{w.parts[i].join, 1}, ev{w.parts[i].leave, -1})
		}
		slices.SortFunc(evs, func(a, b ev) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.delta, b.delta)) })
		// Sample at every minute boundary from the first event on: events at or before the
		// boundary count.
		n, j := 0, 0
		for m := int((evs[0].t + time.Minute - 1) / time.Minute); m < minutes && j < len(evs); m++ {
			t := time.Duration(m) * time.Minute
			for ; j < len(evs) && evs[j].t <= t; j++ {
				n += evs[j].delta
			}
			demand[m] += o.Cost.Of(n)
			people[m] += n
		}
	}
	for m := range demand {
		demand[m] /= float64(o.Nodes) * o.VCPUs
		peak = max(peak, people[m])
	}
	return maxHourMean(demand), peak
}

// maxHourMean returns the largest mean of 60 consecutive minute samples (or of all, if fewer).
func maxHourMean(perMinute []float64) float64 {
	n := min(60, len(perMinute))
	if n == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range perMinute[:n] {
		sum += v
	}
	best := sum
	for i := n; i < len(perMinute); i++ {
		sum += perMinute[i] - perMinute[i-n]
		best = max(best, sum)
	}
	return best / float64(n)
}

// policySeed derives a run's random stream from the scenario seed and the policy name, so a
// policy's result does not depend on which other policies run with it.
func policySeed(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, name)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}
