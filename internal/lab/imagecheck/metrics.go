package imagecheck

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics checks that the metrics page at url has, for each name in want, a sample without
// labels of that value (what `grep -x 'ensemble_jvb_up 1'` asked of the page before).
func Metrics(client *http.Client, url string, want map[string]float64) func(context.Context) error {
	return func(ctx context.Context) error {
		body, err := getOK(ctx, client, url)
		if err != nil {
			return err
		}
		return checkSamples(body, want)
	}
}

func checkSamples(page []byte, want map[string]float64) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return fmt.Errorf("parsing the metrics: %w", err)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f, ok := families[name]
		if !ok {
			return fmt.Errorf("no %s in the metrics", name)
		}
		found := false
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			found = true
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				v = m.GetUntyped().GetValue()
			default:
				return fmt.Errorf("%s is a %s, not a gauge, counter or untyped sample", name, f.GetType())
			}
			if v != want[name] {
				return fmt.Errorf("%s is %g, want %g", name, v, want[name])
			}
		}
		if !found {
			return fmt.Errorf("%s has no sample without labels", name)
		}
	}
	return nil
}
