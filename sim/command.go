package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
)

// Command is one ensemble-sim invocation: a scenario and where its input and outputs go. The
// command's main only turns flags and signals into a Command and calls Execute.
type Command struct {
	Options
	// TraceFile is a CSV of room,join,leave (ParseTrace) replacing the generator; with it, a zero
	// Day replays the trace until its last participant leaves.
	TraceFile string
	// DrawSeed, if not 0, replaces the generator with the day DrawDay draws from it within
	// DrawRanges: its fleet size, day length, load and families (and its replica count unless
	// KeepReplicas). The scenario is named after the drawn day.
	DrawSeed uint64
	// HistoryDrawSeed, if not 0, makes the autoscaler's previous days (Options.HistoryDays) days of
	// the shape drawn from this seed, on the same fleet, instead of the day's own shape: a day unlike
	// the ones the profile was learned from.
	HistoryDrawSeed uint64
	DrawRanges      Ranges
	KeepReplicas    bool
	// Format is "table", "csv" or "json"; Output is the file written ("" or "-": Stdout).
	Format, Output string
	// PlotFile, if set, receives a PNG of per-node load of PlotPolicies, which are simulated even
	// when Policies does not list them.
	PlotFile     string
	PlotPolicies []string
	// Progress, if set, shows a progress bar (redrawn five times a second).
	Progress io.Writer
	// Stdout receives the results, Stderr the warnings.
	Stdout, Stderr io.Writer
}

// Execute reads the trace, simulates and writes the results. Errors about the input (the trace,
// the scenario) wrap ErrScenario.
func Execute(ctx context.Context, c Command) error {
	o := c.Options
	if c.DrawSeed != 0 && c.TraceFile != "" {
		return fmt.Errorf("%w: a drawn day (--draw.seed) and a trace (--trace) both replace the generator: give one", ErrScenario)
	}
	if c.TraceFile != "" {
		f, err := os.Open(c.TraceFile)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrScenario, err)
		}
		o.Trace, err = ParseTrace(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrScenario, c.TraceFile, err)
		}
	}
	if c.DrawSeed != 0 {
		if err := c.DrawRanges.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrScenario, err)
		}
		d := DrawDay(c.DrawSeed, c.DrawRanges)
		o.Nodes, o.Day, o.Seed = d.Nodes, d.Day, d.Seed
		if !c.KeepReplicas {
			o.Replicas = d.Replicas
		}
		if o.Name == "" {
			o.Name = d.Name()
		}
		var err error
		if o.Trace, err = d.Trace(o); err != nil {
			return fmt.Errorf("%w: %w", ErrScenario, err)
		}
	}
	if o.Autoscale && o.HistoryDays > 0 {
		gen := o
		var err error
		o.Profiles, err = learnProfiles(ctx, o, func(k int) (Options, error) {
			oh := gen
			switch {
			case c.HistoryDrawSeed != 0 || c.DrawSeed != 0:
				seed := c.DrawSeed
				if c.HistoryDrawSeed != 0 {
					seed = c.HistoryDrawSeed
				}
				d := DrawDay(seed, c.DrawRanges)
				d.Variant, d.Nodes, d.Day = uint64(k), oh.Nodes, oh.Day
				var err error
				oh.Trace, err = d.Trace(oh)
				return oh, err
			case c.TraceFile != "":
				return oh, fmt.Errorf("%w: a trace has no previous days: learn the profile from a generated or drawn day", ErrScenario)
			}
			oh.Seed = gen.Seed + uint64(k)
			return oh, nil
		})
		if err != nil {
			return err
		}
	}
	if c.PlotFile != "" {
		for _, p := range c.PlotPolicies {
			if !slices.Contains(o.Policies, p) {
				o.Policies = append(o.Policies, p)
			}
		}
		o.Series = true
	}
	var bar *progressBar
	if c.Progress != nil {
		bar = newProgressBar(c.Progress)
		o.Progress = bar.set
		defer bar.stop()
	}
	rep, err := Run(ctx, o)
	if bar != nil {
		bar.stop()
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(c.Stderr, "ensemble-sim: warning: %s\n", w)
	}
	var out bytes.Buffer
	switch c.Format {
	case "csv":
		err = rep.WriteCSV(&out)
	case "json":
		err = rep.WriteJSON(&out)
	case "table", "":
		err = rep.WriteTable(&out)
	default:
		return fmt.Errorf("%w: unknown output format %q (table, csv or json)", ErrScenario, c.Format)
	}
	if err == nil {
		err = write(c.Output, c.Stdout, out.Bytes())
	}
	if err == nil && c.PlotFile != "" {
		var png bytes.Buffer
		if err = rep.WritePNG(&png, c.PlotPolicies...); err == nil {
			err = os.WriteFile(c.PlotFile, png.Bytes(), 0o644)
		}
	}
	return err
}

func write(path string, stdout io.Writer, b []byte) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
