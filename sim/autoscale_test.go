package sim

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// TestAutoscaleHistory: a drawn day's variants are other days of the same shape (other meetings,
// the classes on the same hours), the profile learned from them fits the fleet and covers the day,
// and the autoscaler follows it: a profile asking for the whole fleet all day keeps every node the
// scaler may run booted, while without one it runs far fewer.
func TestAutoscaleHistory(t *testing.T) {
	d, o := classDay(t, "best-of-d")
	v := d
	v.Variant = 1
	other, err := v.Trace(o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(other, o.Trace) {
		t.Fatal("variant 1 is the same day as the day itself")
	}
	hours := func(ps []Participant) []int { // the hours classes open at
		var hs []int
		for _, p := range ps {
			if h := int(p.Join / time.Hour); len(p.Room) > 6 && p.Room[:6] == "class-" && !slices.Contains(hs, h) {
				hs = append(hs, h)
			}
		}
		slices.Sort(hs)
		return hs
	}
	if a, b := hours(o.Trace), hours(other); !reflect.DeepEqual(a, b) {
		t.Errorf("the variant's classes open at hours %v, the day's at %v", b, a)
	}

	o.Autoscale, o.HistoryDays = true, 1
	profiles, err := learnProfiles(context.Background(), o, func(k int) (Options, error) {
		oh, dv := o, d
		dv.Variant = uint64(k)
		var err error
		oh.Trace, err = dv.Trace(oh)
		return oh, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) != 1 || len(profiles[0].Demand) < int(o.Day/time.Minute)-1 {
		t.Fatalf("profiles %d, first of %d minutes: want one covering the %v day", len(profiles), len(profiles[0].Demand), o.Day)
	}
	if peak := slices.Max(profiles[0].Demand); !(peak > 0) || peak > float64(o.Nodes)*o.VCPUs {
		t.Errorf("profile peak %.1f CPUs on a fleet of %.0f", peak, float64(o.Nodes)*o.VCPUs)
	}

	o.HistoryDays = 0
	reactive := result(t, simulate(t, o), "best-of-d")
	o.Profiles = []placement.Profile{{Step: o.Day, Demand: []float64{10 * float64(o.pool()) * o.VCPUs}}}
	full := result(t, simulate(t, o), "best-of-d")
	all := float64(o.pool()) * o.Day.Hours()
	if full.NodeHours < 0.95*all || reactive.NodeHours > 0.8*all {
		t.Errorf("node-hours: %.0f with a profile asking for every node, %.0f without, of %.0f", full.NodeHours, reactive.NodeHours, all)
	}
}
