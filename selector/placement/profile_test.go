package placement

import (
	"math"
	"testing"
	"time"
)

// TestLearnProfile: per step, the most any day asked for; days of different lengths; an infinite
// sample (a broken series) teaches nothing.
func TestLearnProfile(t *testing.T) {
	p := LearnProfile(time.Minute,
		[]float64{1, 5, 2},
		[]float64{3, 4, 2, 8},
		[]float64{0, math.Inf(1)},
	)
	want := []float64{3, 5, 2, 8}
	if p.Step != time.Minute || len(p.Demand) != len(want) {
		t.Fatalf("profile %+v, want step 1m and %v", p, want)
	}
	for i := range want {
		if p.Demand[i] != want[i] {
			t.Errorf("step %d: %v, want %v", i, p.Demand[i], want[i])
		}
	}
}

// TestProfileAhead: the most over the steps that [at, at+lead] touches, 0 past the profile's end
// or for a bad window.
func TestProfileAhead(t *testing.T) {
	p := Profile{Step: time.Minute, Demand: []float64{1, 2, 9, 3, 4}}
	for _, tc := range []struct {
		at, lead time.Duration
		want     float64
	}{
		{0, 0, 1},
		{0, 90 * time.Second, 2},               // steps 0 and 1
		{0, 2 * time.Minute, 9},                // the step at 2 min: the class of the hour, pre-warmed
		{3 * time.Minute, 10 * time.Minute, 4}, // runs past the end
		{30 * time.Second, 30 * time.Second, 2},
		{5 * time.Minute, time.Minute, 0}, // after the profile
		{-time.Minute, time.Minute, 0},
		{0, -time.Minute, 0},
	} {
		if got := p.Ahead(tc.at, tc.lead); got != tc.want {
			t.Errorf("Ahead(%v, %v) = %v, want %v", tc.at, tc.lead, got, tc.want)
		}
	}
	if got := (Profile{}).Ahead(0, time.Hour); got != 0 {
		t.Errorf("empty profile: %v", got)
	}
}

// TestAnticipate: the profile's demand raises the desired count at DesiredNodes' target load
// (0.8 × (1 − 0.2) of 4 CPUs: 2.56 CPUs a node) and never lowers it.
func TestAnticipate(t *testing.T) {
	c := Capacity{Region: "r1", Serving: 5, Desired: 5}
	for _, tc := range []struct {
		demand float64
		want   int
	}{
		{25.6, 10},      // exactly ten nodes' worth
		{25.7, 11},      // a little more: one more node
		{2, 5},          // a light profile does not lower the count of the load at hand
		{0, 5},          // no profile
		{math.NaN(), 5}, // a broken profile changes nothing
		{math.Inf(1), 5},
	} {
		if got := Anticipate(c, tc.demand, 4, 0.8, 0.2); got.Desired != tc.want || got.Region != "r1" || got.Serving != 5 {
			t.Errorf("Anticipate(demand %v) = %+v, want desired %d", tc.demand, got, tc.want)
		}
	}
	if got := Anticipate(c, 100, 0, 0.8, 0.2); got.Desired != 5 {
		t.Errorf("zero-CPU nodes: desired %d, want 5 unchanged", got.Desired)
	}
}
