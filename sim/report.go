package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

var columns = []string{
	"policy", "node_minutes_over_90", "peak_over_mean", "p99_node_load", "peak_node_load",
	"rooms_split", "meetings_refused", "joins_refused", "rooms_moved_by_crash", "saturated_decisions",
}

func (r Result) row() []string {
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	return []string{
		r.Policy, f(r.NodeMinutesOver90, 1), f(r.PeakOverMean, 2), f(r.P99NodeLoad, 3), f(r.PeakNodeLoad, 3),
		strconv.Itoa(r.RoomsSplit), strconv.Itoa(r.MeetingsRefused), strconv.Itoa(r.JoinsRefused),
		strconv.Itoa(r.RoomsMovedByCrash), strconv.Itoa(r.SaturatedDecisions),
	}
}

// WriteTable writes the scenario and a human-readable table of the results.
func (rep *Report) WriteTable(w io.Writer) error {
	s := rep.Scenario
	if _, err := fmt.Fprintf(w, "%d nodes, %v simulated, %d meetings, %d participants (peak %d concurrent), busiest-hour mean CPU demand %.0f %% (load factor %.3g)\n\n",
		s.Nodes, s.SimulatedDuration, s.Meetings, s.Participants, s.PeakParticipants, 100*s.BusiestHourLoad, s.Load); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"policy", "node-min >90%", "peak/mean", "p99 load", "peak load", "split", "mtg refused", "joins refused", "moved by crash", "saturated"}
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

// WriteCSV writes the results as CSV with a header row (column names as in the JSON output).
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return err
	}
	if err := cw.WriteAll(rep.rows()); err != nil {
		return err
	}
	return cw.Error()
}

// WriteJSON writes the scenario and the results as one JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Scenario Scenario `json:"scenario"`
		Results  []Result `json:"results"`
	}{rep.Scenario, rep.Results})
}
