package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a soak measured and counted.
type Report struct {
	Seed          uint64        `json:"seed"`
	Duration      time.Duration `json:"duration_ns"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	Nodes         int           `json:"nodes"`
	Selectors     int           `json:"selectors"`
	ConsulServers int           `json:"consul_servers"`
	// Rate is the requested rate; Achieved the answers per second.
	Rate     float64 `json:"rate_requested"`
	Achieved float64 `json:"rate_achieved"`
	// Requests counts the users' requests (through the balancer); Probes
	// the direct answers of the split probe.
	Requests int `json:"requests"`
	Probes   int `json:"probes"`
	// Skipped counts ticks the generator skipped with 64 requests in flight.
	Skipped int `json:"skipped"`
	// Outcomes counts the users' answers: "302", "503 no_node", "error".
	Outcomes map[string]int `json:"outcomes"`
	// LatencyP50 and LatencyP99 are of the users' requests, in seconds.
	LatencyP50 float64 `json:"latency_p50_seconds"`
	LatencyP99 float64 `json:"latency_p99_seconds"`

	Plan []Event `json:"plan"`
	// Windows is the ground truth: each fault's span and what Consul
	// showed critical, from the start of the load.
	Windows []WindowOffset `json:"windows"`
	// Refused lists the users' answers that named no node (the first 2000),
	// to line them up with the windows.
	Refused     []Refusal         `json:"refused"`
	Faults      []FaultRecord     `json:"faults"`
	NotInjected map[string]string `json:"not_injected"`
	// KVReads counts the reads of the room prefix invariant 4 compared;
	// KVFailed those that failed (Consul without a leader or agent).
	KVReads  int `json:"kv_reads"`
	KVFailed int `json:"kv_failed"`

	Tally
	// Recovery is how long the fleet took to be whole after the last
	// fault; RecoveryErr is set if it did not become whole.
	Recovery    time.Duration `json:"recovery_ns"`
	RecoveryErr string        `json:"recovery_err,omitempty"`
	Resources   []Resource    `json:"resources"`
	// Groups are the process groups of every fleet process seen (each
	// leads its own), by PID, with the process's StartTime.
	Groups map[int]uint64 `json:"-"`
	// Leftover lists processes alive after the fleet stopped.
	Leftover []string `json:"leftover"`
}

// Refusal is an answer that named no node, at its offset from the start
// of the load.
type Refusal struct {
	At      float64 `json:"at_seconds"`
	Kind    string  `json:"kind"`
	Status  int     `json:"status"`
	Reason  string  `json:"reason,omitempty"`
	Replica string  `json:"replica,omitempty"`
	Err     string  `json:"err,omitempty"`
}

// WindowOffset is a Window with times from the start of the load.
type WindowOffset struct {
	Node  string  `json:"node,omitempty"`
	State State   `json:"state"`
	Kind  Kind    `json:"kind"`
	Start float64 `json:"start_seconds"`
	End   float64 `json:"end_seconds"`
}

func (r *Report) tally(ev evidence, b Bounds) {
	answers := ev.Answers
	var zero time.Time
	for _, a := range answers {
		if zero.IsZero() || a.Start.Before(zero) {
			zero = a.Start
		}
	}
	for _, w := range ev.Windows {
		o := WindowOffset{Node: w.Node, State: w.State, Kind: w.Kind, Start: w.Start.Sub(zero).Seconds()}
		if !w.End.IsZero() {
			o.End = w.End.Sub(zero).Seconds()
		}
		r.Windows = append(r.Windows, o)
	}
	r.Outcomes = map[string]int{}
	var lat []float64
	for _, a := range answers {
		if a.Kind == "probe" {
			r.Probes++
			continue
		}
		r.Requests++
		key := fmt.Sprint(a.Status)
		switch {
		case a.Status == 0:
			key = "no answer"
		case a.Reason != "":
			key += " " + a.Reason
		case a.Err != "":
			key += " bad"
		}
		r.Outcomes[key]++
		if !a.ok() && len(r.Refused) < 2000 {
			r.Refused = append(r.Refused, Refusal{At: a.Start.Sub(zero).Seconds(), Kind: a.Kind, Status: a.Status,
				Reason: a.Reason, Replica: a.Replica, Err: a.Err})
		}
		if a.Status != 0 {
			lat = append(lat, a.End.Sub(a.Start).Seconds())
		}
	}
	if r.Elapsed > 0 {
		r.Achieved = float64(r.Requests) / r.Elapsed.Seconds()
	}
	sort.Float64s(lat)
	r.LatencyP50, r.LatencyP99 = quantile(lat, 0.5), quantile(lat, 0.99)
	r.Tally = check(ev, b)
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// Finish adds invariant 5 once the fleet has stopped: resources within
// bound before each kill and at the end (an unreadable count is a
// violation), the fleet whole again, no process left.
func (r *Report) Finish(leftover []string, leftErr error) {
	r.Leftover = leftover
	inv := Invariant{ID: 5, Name: "daemons grown beyond bound or unreadable, fleet not whole again, or processes left after exit"}
	for _, res := range r.Resources {
		if !res.OK {
			inv.add("%s (%s): %s", res.Name, res.When, res.Why)
		}
	}
	if r.RecoveryErr != "" {
		inv.add("%s", r.RecoveryErr)
	}
	if leftErr != nil {
		inv.add("%v", leftErr)
	}
	for _, l := range leftover {
		inv.add("left running: %s", l)
	}
	r.Invariants = append(slices.DeleteFunc(r.Invariants, func(i Invariant) bool { return i.ID == 5 }), inv)
}

// Violations is the sum of every invariant's count.
func (r *Report) Violations() int {
	n := 0
	for _, inv := range r.Invariants {
		n += inv.Count
	}
	return n
}

// Uninjected lists the kinds of fault the soak can inject that it did not
// (or that failed every time).
func (r *Report) Uninjected() []Kind {
	counts := r.FaultCounts()
	var out []Kind
	for _, k := range allKinds {
		if counts[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// FaultCounts counts the injected faults by kind (failed ones apart).
func (r *Report) FaultCounts() map[Kind]int {
	out := map[Kind]int{}
	for _, f := range r.Faults {
		if f.Err == "" {
			out[f.Kind]++
		}
	}
	return out
}

// Print writes the report as tables.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "soak seed %d: %.0fs of load on %d nodes, %d selectors, %d Consul servers\n",
		r.Seed, r.Elapsed.Seconds(), r.Nodes, r.Selectors, r.ConsulServers)
	fmt.Fprintf(w, "load: %d requests (%.1f/s, asked %.1f/s, %d ticks skipped), %d probe answers, latency p50 %.1f ms p99 %.1f ms\n",
		r.Requests, r.Achieved, r.Rate, r.Skipped, r.Probes, r.LatencyP50*1000, r.LatencyP99*1000)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "answer\tcount\t")
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		fmt.Fprintf(tw, "%s\t%d\t\n", k, r.Outcomes[k])
	}
	tw.Flush()
	counts := r.FaultCounts()
	failed := len(r.Faults)
	var parts []string
	for _, k := range allKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		failed -= counts[k]
	}
	fmt.Fprintf(w, "faults injected: %s (failed to inject: %d)\n", strings.Join(parts, ", "), failed)
	for _, what := range slices.Sorted(maps.Keys(r.NotInjected)) {
		fmt.Fprintf(w, "not injected: %s: %s\n", what, r.NotInjected[what])
	}
	fmt.Fprintf(w, "rooms moved off a node down for --rooms.move-after, by fault: %v; joins sent to their room's node while it was down, within the bound: %d; answers naming a room's old node overlapping its move: %d; 503s inside their window: %v; answers outside fault windows: %d, %.2f%% naming a node; room prefix read %d times (%d reads failed); fleet whole %.1fs after the last fault\n",
		r.Moves, r.HeldJoins, r.Concurrent, r.Allowed503, r.Quiet, 100*r.QuietOKShare(), r.KVReads, r.KVFailed, r.Recovery.Seconds())
	for _, lf := range r.LongFaults {
		fmt.Fprintf(w, "long fault: %s on %s at %+.1fs held %.1fs: %d of its rooms asked while down, %d moved\n",
			lf.Kind, lf.Node, lf.Start, lf.Held, lf.Rooms, lf.Moved)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "invariant\tcount\tlimit\t")
	for _, inv := range r.Invariants {
		fmt.Fprintf(tw, "%d. %s\t%d\t0\t\n", inv.ID, inv.Name, inv.Count)
	}
	tw.Flush()
	for _, inv := range r.Invariants {
		for _, ex := range inv.Examples {
			fmt.Fprintf(w, "  invariant %d: %s\n", inv.ID, ex)
		}
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "daemon\tsampled\tgoroutines\topen files\trss MiB\trestarted\tok\t")
	for _, res := range r.Resources {
		fmt.Fprintf(tw, "%s\t%s\t%d -> %d\t%d -> %d\t%.1f -> %.1f\t%v\t%v\t\n", res.Name, res.When,
			res.Start.Goroutines, res.End.Goroutines, res.Start.FDs, res.End.FDs,
			float64(res.Start.RSSBytes)/mib, float64(res.End.RSSBytes)/mib, res.Restarted, res.OK)
	}
	tw.Flush()
	fmt.Fprintf(w, "bounds: ours (sidecar, selector, jvbemu) %s; others %s; processes left after exit: %d\n",
		ownGrowth, foreignGrowth, len(r.Leftover))
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}
