package load

import (
	"math"
	"testing"
)

func TestScorer(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name        string
		cpu, stress float64
		want        float64
	}{
		{ScoreMax, 0.3, 0.7, 0.7},
		{ScoreMax, 0.9, 0.2, 0.9},
		{ScoreMax, nan, 0.4, 0.4},
		{ScoreMax, 0.5, nan, 0.5},
		{ScoreMax, nan, nan, nan},
		{ScoreMax, 0.5, 1.4, 1.4},
		{ScoreCPU, 0.3, 0.7, 0.3},
		{ScoreCPU, nan, 0.7, nan},
		{ScoreStress, 0.3, 0.7, 0.7},
		{ScoreStress, 0.3, nan, nan},
	} {
		f, err := NewScorer(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		got := f(Sample{CPU: tc.cpu, Stress: tc.stress})
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("%s(cpu %v, stress %v) = %v, want %v", tc.name, tc.cpu, tc.stress, got, tc.want)
		}
	}
	if _, err := NewScorer("mean"); err == nil {
		t.Fatal("unknown score accepted")
	}
}
