// Command ensemble-sim replays a day of meetings on a simulated Jitsi fleet against the
// selector's real placement policies and room bindings, under delayed load data, and prints how
// each policy loaded the fleet (table, CSV or JSON; optionally a PNG of per-node load).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// cli is the parsed command line beyond what maps straight onto sim.Command.
type cli struct {
	crash, drain, progress, daySet, replicasSet bool
	draw                                        sim.Ranges
}

func newApp(cmd *sim.Command, c *cli, stderr io.Writer) *kingpin.Application {
	o := &cmd.Options
	app := kingpin.New("ensemble-sim", "Replay a day of meetings against the selector's placement policies and compare them.").DefaultEnvars()
	app.HelpFlag.Short('h')
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	dur := func(name, help string, d *time.Duration) {
		app.Flag(name, help).Default(d.String()).DurationVar(d)
	}
	num := func(name, help string, f *float64) {
		app.Flag(name, help).Default(fmt.Sprint(*f)).Float64Var(f)
	}
	app.Flag("seed", "Random seed; the same seed and flags give the same results.").Default(fmt.Sprint(o.Seed)).Uint64Var(&o.Seed)
	app.Flag("nodes", "Number of nodes.").Default(fmt.Sprint(o.Nodes)).IntVar(&o.Nodes)
	num("node.vcpus", "Logical CPUs per node.", &o.VCPUs)
	num("cost.conference", "CPUs per meeting.", &o.Cost.PerConference)
	num("cost.participant", "CPUs per participant.", &o.Cost.PerParticipant)
	num("cost.stream", "CPUs per forwarded stream (sender to receiver).", &o.Cost.PerStream)
	app.Flag("cost.last-n", "Streams each participant receives at most.").Default(fmt.Sprint(o.Cost.LastN)).IntVar(&o.Cost.LastN)
	num("ceiling", "CPU demand ratio at which a node fails new participants.", &o.Ceiling)
	app.Flag("name", "Label of the scenario in the outputs.").StringVar(&o.Name)
	app.Flag("day", "Length of the simulated day (with --trace: until the last participant leaves).").
		Default(o.Day.String()).IsSetByUser(&c.daySet).DurationVar(&o.Day)
	app.Flag("shape", "Day shape: "+sim.ShapeHelp()+".").Default(o.Shape).EnumVar(&o.Shape, sim.Shapes()...)
	num("meetings", "Meetings per day at --load 1 (the original service: about 1,700).", &o.Rooms)
	num("load", "Arrival-rate factor.", &o.Load)
	num("mean-load", "If set, choose --load so the busiest hour's mean CPU demand is this ratio (e.g. 0.8).", &o.MeanLoad)
	num("size.alpha", "Meeting sizes follow P(n) ∝ n^-alpha.", &o.SizeAlpha)
	app.Flag("size.max", "Largest meeting.").Default(fmt.Sprint(o.MaxSize)).IntVar(&o.MaxSize)
	dur("duration.median", "Median meeting duration (log-normal).", &o.DurationMedian)
	num("duration.sigma", "Sigma of the log-normal meeting duration.", &o.DurationSigma)
	dur("join.spread", "Participants join uniformly over this first part of the meeting.", &o.JoinSpread)
	num("join.late", "Fraction of participants joining at any time during the meeting.", &o.LateJoin)
	app.Flag("trace", "CSV of room,join,leave (seconds or RFC 3339) replacing the generator (--shape, --meetings, --load, --mean-load, size, duration and join flags are then ignored; see docs/placement.md).").StringVar(&cmd.TraceFile)
	dur("view.scrape-interval", "Prometheus scrape interval (each node at its own offset).", &o.Scrape)
	dur("view.eval-interval", "Prometheus rule evaluation interval.", &o.Eval)
	dur("view.rate-window", "rate() window of the CPU recording rule.", &o.RateWindow)
	dur("view.poll-interval", "Selector's load refresh interval.", &o.Poll)
	app.Flag("view.zero-delay", "Give every policy the true load at every decision, without pending correction.").BoolVar(&o.ZeroDelay)
	app.Flag("oracle", "Add the oracle row: least-loaded on the true, instant load without pending correction.").Default("true").BoolVar(&o.Oracle)
	app.Flag("crash", "Crash the busiest node at --crash.at.").Default("true").BoolVar(&c.crash)
	dur("crash.at", "When the busiest node crashes.", &o.CrashAt)
	dur("crash.detect", "Time until the crashed node is marked gone.", &o.CrashDetect)
	dur("crash.reconnect", "Its participants come back uniformly over this.", &o.Reconnect)
	app.Flag("drain", "Drain the busiest node at --drain.at.").Default("true").BoolVar(&c.drain)
	dur("drain.at", "When the busiest node is put in maintenance.", &o.DrainAt)
	all := o.Policies
	o.Policies = nil // kingpin appends the defaults
	app.Flag("policy", "Policy to simulate (repeatable; default: all).").Default(all...).EnumsVar(&o.Policies, placement.Builtin().Names()...)
	num("selector.high-water", "High-water mark of the corrected score.", &o.Placement.HighWater)
	dur("load.max-age", "Load data older than this is unknown.", &o.Placement.MaxAge)
	dur("selector.pending-window", "How long an assignment counts in a node's pending account.", &o.Placement.Window)
	num("selector.room-cost", "CPUs one new room is expected to add (pending correction).", &o.Placement.Cost)
	num("selector.join-cost", "CPUs one participant sent to a node is expected to add (pending correction, every join).", &o.Placement.JoinCost)
	app.Flag("selector.pending-replicas", "Scale pending counts by this many replicas (0: --selector.replicas).").
		Default(fmt.Sprint(o.Placement.Replicas)).IntVar(&o.Placement.Replicas)
	app.Flag("selector.choices", "Random nodes p2c compares.").Default(fmt.Sprint(o.Placement.Choices)).IntVar(&o.Placement.Choices)
	num("selector.epsilon", "bounded-hash load slack.", &o.Placement.Epsilon)
	dur("rooms.ttl", "Idle expiry of a room binding.", &o.RoomsTTL)
	app.Flag("regions", "1, or 2: two regions (half the nodes each) whose days are shifted by --regions.shift; each spills to the other when saturated.").
		Default(fmt.Sprint(o.Regions)).IntVar(&o.Regions)
	dur("regions.shift", "How much later the second region's day runs.", &o.RegionShift)
	app.Flag("regions.blind", "Place new rooms without regard to the participants' region (the reference).").BoolVar(&o.RegionBlind)
	app.Flag("autoscale", "Scale the fleet from ensemble_fleet_desired_nodes (--nodes is then the most it runs).").BoolVar(&o.Autoscale)
	dur("autoscale.boot-delay", "Time from ordering a node to its first room.", &o.BootDelay)
	dur("autoscale.interval", "Autoscaler step.", &o.ScaleEvery)
	app.Flag("autoscale.max-nodes", "The most the autoscaler runs (0: twice --nodes).").Default("0").IntVar(&o.MaxNodes)
	app.Flag("autoscale.min-nodes", "Nodes per region the autoscaler keeps (0: a tenth of --nodes).").Default(fmt.Sprint(o.MinNodes)).IntVar(&o.MinNodes)
	app.Flag("autoscale.history-days", "Learn a time-of-day demand profile from this many previous days of the same shape (other seeds) and size the fleet for the profile's demand ahead as well (0: the load at hand only).").
		Default("0").IntVar(&o.HistoryDays)
	app.Flag("autoscale.history-draw-seed", "Learn the profile from days of the shape drawn from this seed instead (on the same fleet): a day unlike the previous ones.").
		Uint64Var(&cmd.HistoryDrawSeed)
	dur("autoscale.lead", "How far ahead the learned profile is read (boot time plus margin).", &o.Lead)
	num("autoscale.headroom", "Share of the high-water mark kept free when sizing (--fleet.headroom).", &o.Headroom)
	app.Flag("selector.replicas", "Selector instances behind a load balancer (own pending accounts, shared bindings).").
		Default(fmt.Sprint(o.Replicas)).IsSetByUser(&c.replicasSet).IntVar(&o.Replicas)
	app.Flag("selector.shares", "Tell each replica its position (--selector.replica), so that it places new rooms on its own share of the nodes first (--no-selector.shares: the replicas do not know).").
		Default(fmt.Sprint(o.Shares)).BoolVar(&o.Shares)
	app.Flag("draw.seed", "If set, replace the generator and --nodes, --day, --seed with a day shape drawn from this seed (families, fleet size, day length, load; docs/placement.md); --selector.replicas, if given, overrides the drawn replica count.").
		Uint64Var(&cmd.DrawSeed)
	c.draw = sim.DefaultRanges()
	app.Flag("draw.max-nodes", "Largest fleet a drawn day may have.").Default(fmt.Sprint(c.draw.MaxNodes)).IntVar(&c.draw.MaxNodes)
	dur("draw.max-day", "Longest day a drawn day may have.", &c.draw.MaxDay)
	app.Flag("experiment.size-history", "Experiment: on creating a room, count its eventual participants as pending joins (a perfect history of recurring room sizes).").
		BoolVar(&o.SizeHistory)
	app.Flag("output.format", "table, csv or json.").Default("table").EnumVar(&cmd.Format, "table", "csv", "json")
	app.Flag("output.file", "Write the results here instead of stdout.").StringVar(&cmd.Output)
	app.Flag("plot.file", "Write a PNG of per-node load over the day here.").StringVar(&cmd.PlotFile)
	app.Flag("plot.policy", "Policies side by side in the PNG (repeatable).").Default("most-free-cpu", placement.DefaultPolicy).
		EnumsVar(&cmd.PlotPolicies, placement.Builtin().Names()...)
	app.Flag("progress", "Show a progress bar on stderr.").Default("true").BoolVar(&c.progress)
	app.Flag("parallel", "Policies simulated at once (0: all).").Default("0").IntVar(&o.Parallel)
	return app
}

// run parses args and runs the simulation; it returns 0, 1 on a failed run, 2 on bad flags or
// input.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := sim.Command{Options: sim.DefaultOptions(), Stdout: stdout, Stderr: stderr}
	var c cli
	app := newApp(&cmd, &c, stderr)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-sim: error: %v\n", err)
		return 2
	}
	if !c.crash {
		cmd.CrashAt = -1
	}
	if !c.drain {
		cmd.DrainAt = -1
	}
	if cmd.TraceFile != "" && !c.daySet {
		cmd.Day = 0 // until the last participant leaves
	}
	cmd.DrawRanges, cmd.KeepReplicas = c.draw, c.replicasSet
	if c.progress {
		cmd.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sim.Execute(ctx, cmd); err != nil {
		fmt.Fprintf(stderr, "ensemble-sim: error: %v\n", err)
		if errors.Is(err, sim.ErrScenario) {
			return 2
		}
		return 1
	}
	return 0
}
