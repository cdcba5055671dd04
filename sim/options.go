// Package sim replays a day of meetings against the selector's real placement policies and room
// bindings (selector/placement, selector/rooms) under delayed load data, and measures how each
// policy loads the fleet. It is deterministic for a given seed.
package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Options describes a scenario. Field names mirror ensemble-sim's flags; DefaultOptions documents
// where each default comes from.
type Options struct {
	// Name labels the scenario in the outputs (CSV and JSON carry it with the other scenario
	// fields), so rows from several runs can be concatenated and still told apart.
	Name string
	Seed uint64

	// Fleet.
	Nodes int
	VCPUs float64 // logical CPUs per node
	Cost  Cost
	// Ceiling is the CPU demand (as a ratio of the node's CPUs) at which quality collapses: a node
	// at or above it fails every new participant.
	Ceiling float64

	// Day is the simulated time. With a Trace, zero means "until the last participant leaves";
	// a shorter Day cuts the trace, which Run reports in Report.Warnings.
	Day time.Duration

	// Workload (ignored when Trace is set).
	Shape          string  // day shape, one of Shapes()
	Rooms          float64 // meetings per day at Load 1
	Load           float64 // arrival-rate factor
	MeanLoad       float64 // if > 0, choose Load so the busiest hour's mean fleet CPU demand is this ratio
	SizeAlpha      float64 // meeting sizes follow P(n) ∝ n^-SizeAlpha on [2, MaxSize]
	MaxSize        int
	DurationMedian time.Duration // meeting durations are log-normal with this median ...
	DurationSigma  float64       // ... and this σ of the underlying normal
	JoinSpread     time.Duration // participants join uniformly over the first JoinSpread
	LateJoin       float64       // fraction of participants who instead join at a uniform time in the meeting
	Trace          []Participant // if set, replaces the generator

	// The selector's view of load, as in production: Prometheus scrapes each node every Scrape
	// (each node at its own offset), evaluates the recording rule (rate() over RateWindow) every
	// Eval, and the selector polls the recorded series every Poll; the three clocks run out of
	// phase. ZeroDelay gives every policy the true load at every decision and switches the pending
	// correction off, since the true load already counts every placed participant.
	Scrape, Eval, RateWindow, Poll time.Duration
	ZeroDelay                      bool
	// Oracle adds a row "oracle": least-loaded on the true, instant load without any pending
	// correction, the floor every table is read against.
	Oracle bool

	// Events (a negative time disables one).
	CrashAt     time.Duration // the busiest node crashes
	CrashDetect time.Duration // until its health check marks it gone
	Reconnect   time.Duration // its participants come back uniformly over this after detection
	DrainAt     time.Duration // the busiest remaining node is put in maintenance

	// Regions splits the fleet into two halves, regions r1 and r2, each with its own day of
	// meetings (of the same shape and size), r2's shifted by RegionShift; each is the other's
	// neighbour. RegionBlind ignores the regions in placement (the reference it is compared with).
	Regions     int
	RegionShift time.Duration
	RegionBlind bool

	// Autoscale runs the fleet as an autoscaler would, from ensemble_fleet_desired_nodes computed on
	// the selector's view every ScaleEvery: it starts with MinNodes (per region), boots nodes (ready
	// BootDelay later, at the next scaler step) while desired exceeds serving plus booting, and
	// drains the least loaded node when desired is below serving, removing it once empty. Nodes is
	// then the most it may run; NodeHours reports what it ran. MinNodes 0 means a tenth of the
	// fleet's share of each region.
	Autoscale  bool
	BootDelay  time.Duration
	ScaleEvery time.Duration
	MinNodes   int
	Headroom   float64
	// MaxNodes is the most the autoscaler runs (0: twice Nodes). Nodes still sizes the workload
	// (MeanLoad) and is the fixed fleet the autoscaler is compared with.
	MaxNodes int
	// HistoryDays is how many previous days the autoscaler learns a time-of-day demand profile
	// from (0: none, the desired count follows the load at hand). Each is the same day shape with
	// other random meetings (another seed; a drawn day's other variant), run on the fixed fleet.
	HistoryDays int
	// Lead is how far ahead the profile is read: the desired count covers the profile's demand
	// over [now, now+Lead], so nodes ordered now have booted when it comes.
	Lead time.Duration
	// Profiles is each region's learned demand profile (Execute fills it from HistoryDays).
	Profiles []placement.Profile

	// Selector.
	Policies  []string
	Placement placement.Config
	RoomsTTL  time.Duration
	// SizeHistory is an experiment, not a selector feature: when a policy creates a room, its
	// selector counts the room's eventual participants but the first as pending joins on the
	// chosen node, as a selector that knew each recurring room name's size from past days would.
	// The simulated history is perfect, so this bounds what such a history can buy.
	SizeHistory bool
	// Replicas is the number of selector instances behind a load balancer: each request goes to a
	// random one; each keeps its own pending accounts; they share the binding store.
	Replicas int
	// Shares tells each replica its position (placement.Config.Replica), as the Ansible role's
	// --selector.replica does, so that each places new rooms on its own share of the nodes first.
	Shares bool

	// Series keeps every node's load each minute (for the plot).
	Series bool
	// Parallel is how many policies run at once (0 = one per policy).
	Parallel int
	// Progress, if set, is called now and then with the work done and the total, from any goroutine.
	Progress func(done, total int64)

	// servedOnly leaves the demand of turned-away participants out of NodeMinutesOver90, for the
	// test that shows this accounting moves no placement.
	servedOnly bool
	// oracleSnapshots makes the oracle pick with placement.LeastLoaded on a snapshot rebuilt before
	// each pick, as it did before its tree, for the test that shows both pick the same nodes.
	oracleSnapshots bool
}

// Cost is the CPU a meeting takes on its node, in logical CPUs:
// PerConference + n·PerParticipant + n·min(n-1, LastN)·PerStream for n participants present.
type Cost struct {
	PerConference  float64
	PerParticipant float64
	PerStream      float64 // per forwarded stream (one sender to one receiver)
	LastN          int     // streams each receiver gets at most
}

// Of returns the CPUs a meeting of n present participants takes.
func (c Cost) Of(n int) float64 {
	if n <= 0 {
		return 0
	}
	return c.PerConference + float64(n)*c.PerParticipant + float64(n*min(n-1, c.LastN))*c.PerStream
}

// Join returns the CPUs the next participant adds to a meeting of n present participants.
func (c Cost) Join(n int) float64 { return c.Of(n+1) - c.Of(n) }

// DefaultOptions returns the default scenario: the original service's scale (100 nodes × 4 vCPUs,
// about 1,700 meetings and 800 concurrent participants at the peak of an 8-hour day), the
// production data path (15 s scrape, rule evaluated every 5 s as in deploy/prometheus, a 1 m rate
// window holding four scrapes, a 5 s poll), a crash and a drain mid-day, every built-in policy and
// the oracle row.
func DefaultOptions() Options {
	o := Options{
		Seed:           1,
		Nodes:          100,
		VCPUs:          4,
		Cost:           Cost{PerConference: 0.01, PerParticipant: 0.02, PerStream: 0.002, LastN: 20},
		Ceiling:        1.0,
		Day:            8 * time.Hour,
		Shape:          "office",
		Rooms:          1700,
		Load:           1,
		SizeAlpha:      2.5,
		MaxSize:        100,
		DurationMedian: 30 * time.Minute,
		DurationSigma:  0.6,
		JoinSpread:     3 * time.Minute,
		LateJoin:       0.05,
		Scrape:         15 * time.Second,
		Eval:           5 * time.Second,
		RateWindow:     time.Minute,
		Poll:           5 * time.Second,
		Oracle:         true,
		CrashAt:        4*time.Hour + 10*time.Minute,
		CrashDetect:    5 * time.Second,
		Reconnect:      30 * time.Second,
		DrainAt:        5 * time.Hour,
		Policies:       placement.Builtin().Names(),
		Placement:      placement.DefaultConfig(),
		RoomsTTL:       12 * time.Hour,
		Replicas:       1,
		Shares:         true,
		Regions:        1,
		RegionShift:    3 * time.Hour,
		BootDelay:      3 * time.Minute,
		Lead:           10 * time.Minute,
		ScaleEvery:     time.Minute,
		Headroom:       placement.DefaultHeadroom,
	}
	// Each simulated replica scales its pending counts by Replicas, as a selector run with
	// --selector.replicas does; a non-zero value here overrides that.
	o.Placement.Replicas = 0
	return o
}

func (o Options) validate() error {
	var errs []error
	pos := func(name string, v float64) {
		if !(v > 0) {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", name, v))
		}
	}
	if o.Nodes < 1 || o.Nodes > 1_000_000 {
		errs = append(errs, fmt.Errorf("nodes must be in [1, 1e6], got %d", o.Nodes))
	}
	pos("vcpus", o.VCPUs)
	pos("ceiling", o.Ceiling)
	if o.Cost.PerConference < 0 || o.Cost.PerParticipant < 0 || o.Cost.PerStream < 0 || o.Cost.LastN < 0 {
		errs = append(errs, fmt.Errorf("costs must not be negative: %+v", o.Cost))
	}
	if o.Trace == nil || o.Day != 0 {
		pos("day", o.Day.Hours())
	}
	if o.Trace == nil {
		if _, ok := shapes[o.Shape]; !ok {
			errs = append(errs, fmt.Errorf("unknown day shape %q (known: %v)", o.Shape, Shapes()))
		}
		pos("rooms per day", o.Rooms)
		pos("load", o.Load)
		pos("size alpha", o.SizeAlpha)
		pos("duration median", o.DurationMedian.Seconds())
		if o.MaxSize < 2 || o.MaxSize > 10_000 {
			errs = append(errs, fmt.Errorf("max meeting size must be in [2, 10000], got %d", o.MaxSize))
		}
		if o.DurationSigma < 0 || o.JoinSpread < 0 || o.LateJoin < 0 || o.LateJoin > 1 || o.MeanLoad < 0 {
			errs = append(errs, errors.New("duration sigma, join spread, mean load must not be negative and late-join must be in [0, 1]"))
		}
	}
	if !o.ZeroDelay {
		pos("scrape interval", o.Scrape.Seconds())
		pos("poll interval", o.Poll.Seconds())
		pos("rule evaluation interval", o.Eval.Seconds())
		if o.RateWindow < 2*o.Scrape {
			errs = append(errs, fmt.Errorf("rate window %v must hold at least two scrapes (scrape %v)", o.RateWindow, o.Scrape))
		}
	}
	if o.CrashDetect < 0 || o.Reconnect < 0 {
		errs = append(errs, errors.New("crash detection and reconnect times must not be negative"))
	}
	pos("rooms TTL", o.RoomsTTL.Seconds())
	if o.Regions != 1 && o.Regions != 2 {
		errs = append(errs, fmt.Errorf("regions must be 1 or 2, got %d", o.Regions))
	}
	if o.Regions == 2 && o.Trace != nil {
		errs = append(errs, errors.New("two regions need the generator, not a trace"))
	}
	if o.Regions == 2 && o.Nodes < 2 {
		errs = append(errs, errors.New("two regions need at least two nodes"))
	}
	if o.Autoscale {
		if o.MaxNodes != 0 && (o.MaxNodes < o.Nodes || o.MaxNodes > 1_000_000) {
			errs = append(errs, fmt.Errorf("autoscale max nodes must be in [nodes, 1e6], got %d", o.MaxNodes))
		}
		if o.BootDelay < 0 || o.ScaleEvery <= 0 || o.MinNodes < 0 || o.minNodes()*o.Regions > o.pool() || !(o.Headroom >= 0 && o.Headroom < 1) {
			errs = append(errs, fmt.Errorf("autoscaling needs boot delay >= 0, a positive step, 1 <= min nodes per region <= nodes and headroom in [0, 1): %v, %v, %d, %v",
				o.BootDelay, o.ScaleEvery, o.MinNodes, o.Headroom))
		}
	}
	if o.Replicas < 1 || o.Replicas > 64 {
		errs = append(errs, fmt.Errorf("selector replicas must be in [1, 64], got %d", o.Replicas))
	}
	if len(o.Policies) == 0 {
		errs = append(errs, errors.New("no policy to simulate"))
	}
	reg := placement.Builtin()
	for _, p := range o.Policies {
		if _, err := reg.Get(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := o.Placement.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// minNodes is the autoscaler's floor per region: MinNodes, or a tenth of the fixed fleet's share.
func (o Options) minNodes() int {
	if o.MinNodes > 0 {
		return o.MinNodes
	}
	return max(1, o.Nodes/o.Regions/10)
}

// pool is the number of simulated nodes: the fleet, or the most the autoscaler may run.
func (o Options) pool() int {
	switch {
	case !o.Autoscale:
		return o.Nodes
	case o.MaxNodes > 0:
		return o.MaxNodes
	}
	return 2 * o.Nodes
}
