package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// The tables lead with the people turned away: a policy that refuses joins sheds load. Node-minutes
// over 90 % count the demand of the participants a node turned away at the ceiling, so refusing
// does not lower them; the served-only figure follows.
var columns = []string{
	"policy", "joins_refused", "unserved_participant_minutes", "node_minutes_over_90", "node_minutes_over_90_served",
	"meetings_refused",
	"peak_over_mean", "p99_node_load", "peak_node_load", "rooms_split", "rooms_moved_by_crash", "saturated_decisions",
	"rooms_spilled", "remote_joins", "node_hours",
}

// scenarioColumns lead every CSV row, so rows of several runs concatenate.
var scenarioColumns = []string{
	"scenario", "shape", "seed", "nodes", "replicas", "data_path", "busiest_hour_load", "meetings", "participants",
}

func f(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func (r Result) row() []string {
	return []string{
		r.Policy, strconv.Itoa(r.JoinsRefused), f(r.UnservedMinutes, 0), f(r.NodeMinutesOver90, 1), f(r.NodeMinutesOver90Served, 1),
		strconv.Itoa(r.MeetingsRefused), f(r.PeakOverMean, 2), f(r.P99NodeLoad, 3), f(r.PeakNodeLoad, 3),
		strconv.Itoa(r.RoomsSplit), strconv.Itoa(r.RoomsMovedByCrash), strconv.Itoa(r.SaturatedDecisions),
		strconv.Itoa(r.RoomsSpilled), strconv.Itoa(r.RemoteJoins), f(r.NodeHours, 1),
	}
}

func (s Scenario) row() []string {
	return []string{
		s.Name, s.Shape, strconv.FormatUint(s.Seed, 10), strconv.Itoa(s.Nodes), strconv.Itoa(s.Replicas), s.DataPath,
		f(s.BusiestHourLoad, 3), strconv.Itoa(s.Meetings), strconv.Itoa(s.Participants),
	}
}

// WriteTable writes the scenario and a human-readable table of the results.
func (rep *Report) WriteTable(w io.Writer) error {
	s := rep.Scenario
	name := s.Shape
	if s.Name != "" {
		name = s.Name + " (" + s.Shape + ")"
	}
	if _, err := fmt.Fprintf(w, "%s, seed %d, %d nodes, %d selector replica(s), %v simulated, %d meetings, %d participants (peak %d concurrent), busiest-hour mean CPU demand %.0f %% (load factor %.3g); data path: %s\n",
		name, s.Seed, s.Nodes, s.Replicas, s.SimulatedDuration, s.Meetings, s.Participants, s.PeakParticipants, 100*s.BusiestHourLoad, s.Load, s.DataPath); err != nil {
		return err
	}
	for _, warn := range rep.Warnings {
		if _, err := fmt.Fprintf(w, "warning: %s\n", warn); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"policy", "joins refused", "unserved p-min", "node-min >90%", "served >90%", "mtg refused", "peak/mean", "p99 load", "peak load", "split", "moved by crash", "saturated", "spilled", "remote joins", "node-hours"}
	for _, row := range append([][]string{header}, rep.rows()...) {
		for _, c := range row {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func (rep *Report) rows() [][]string {
	out := make([][]string, len(rep.Results))
	for i, r := range rep.Results {
		out[i] = r.row()
	}
	return out
}

// WriteCSV writes the results as CSV with a header row (column names as in the JSON output), each
// row starting with the scenario's fields.
func (rep *Report) WriteCSV(w io.Writer) error {
	return rep.writeCSV(w, true)
}

// WriteCSVRows writes the CSV rows without the header, to append to a file WriteCSV started.
func (rep *Report) WriteCSVRows(w io.Writer) error {
	return rep.writeCSV(w, false)
}

func (rep *Report) writeCSV(w io.Writer, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write(append(slices.Clone(scenarioColumns), columns...)); err != nil {
			return err
		}
	}
	sc := rep.Scenario.row()
	for _, r := range rep.rows() {
		if err := cw.Write(append(slices.Clone(sc), r...)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the scenario and the results as one JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Scenario Scenario `json:"scenario"`
		Warnings []string `json:"warnings"`
		Results  []Result `json:"results"`
	}{rep.Scenario, rep.Warnings, rep.Results})
}
