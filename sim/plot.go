package sim

import (
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// maxPlottedNodes bounds the lines per panel: beyond a few hundred the picture is a solid band
// and the PNG takes seconds to draw.
const maxPlottedNodes = 200

// WritePNG draws, for each named policy side by side, every node's CPU demand over the day (one
// faint line per node), the fleet mean, and the 90 % line. The report must come from a run with
// Options.Series set.
func (rep *Report) WritePNG(w io.Writer, policies ...string) error {
	if len(policies) == 0 {
		return errors.New("plot: no policy named")
	}
	row := make([]*plot.Plot, len(policies))
	for i, name := range policies {
		var res *Result
		for j := range rep.Results {
			if rep.Results[j].Policy == name {
				res = &rep.Results[j]
			}
		}
		if res == nil {
			return fmt.Errorf("plot: policy %q was not simulated", name)
		}
		if len(res.Series) == 0 {
			return fmt.Errorf("plot: no per-node series for %q (run with Series)", name)
		}
		p, err := panel(res, rep.Scenario)
		if err != nil {
			return err
		}
		row[i] = p
	}
	img := vgimg.New(vg.Length(len(policies))*7*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(policies), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

func panel(res *Result, sc Scenario) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %.0f node-min > 90 %%, %d joins refused", res.Policy, res.NodeMinutesOver90, res.JoinsRefused)
	p.X.Label.Text = "hours into the day"
	p.Y.Label.Text = "node CPU demand / CPUs"
	p.Y.Min, p.Y.Max = 0, 1.2
	nodes := min(len(res.Series[0]), maxPlottedNodes)
	faint := color.NRGBA{R: 31, G: 119, B: 180, A: 60}
	for k := range nodes {
		pts := make(plotter.XYs, len(res.Series))
		for m, row := range res.Series {
			pts[m] = plotter.XY{X: float64(m) / 60, Y: min(float64(row[k]), 1.2)}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = faint, vg.Points(0.6)
		p.Add(l)
	}
	mean := make(plotter.XYs, len(res.Series))
	for m, row := range res.Series {
		sum := 0.0
		for _, v := range row {
			sum += float64(v)
		}
		mean[m] = plotter.XY{X: float64(m) / 60, Y: sum / float64(len(row))}
	}
	ml, err := plotter.NewLine(mean)
	if err != nil {
		return nil, err
	}
	ml.Color, ml.Width = color.Black, vg.Points(1.8)
	hot := plotter.XYs{{X: 0, Y: 0.9}, {X: sc.SimulatedDuration.Hours(), Y: 0.9}}
	hl, err := plotter.NewLine(hot)
	if err != nil {
		return nil, err
	}
	hl.Color, hl.Width, hl.Dashes = color.NRGBA{R: 214, G: 39, B: 40, A: 255}, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(ml, hl)
	p.Legend.Add("fleet mean", ml)
	p.Legend.Add("90 %", hl)
	p.Legend.Top = true
	return p, nil
}
