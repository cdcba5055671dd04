package load

import (
	"fmt"
	"math"
)

// Score names for --load.score.
const (
	// ScoreMax takes the more constrained of the CPU busy ratio and the videobridge stress level: a
	// bridge is often bound by packets or bandwidth before CPU, and by CPU (prosody, jicofo, nginx
	// share the host) before its own stress shows it.
	ScoreMax = "max"
	// ScoreCPU uses the CPU busy ratio alone.
	ScoreCPU = "cpu"
	// ScoreStress uses the videobridge stress level alone: right when nodes share a CPU (the demo's
	// emulated fleet) or the CPU figure is meaningless for another reason.
	ScoreStress = "stress"
)

// ScoreNames returns the valid --load.score values.
func ScoreNames() []string { return []string{ScoreMax, ScoreCPU, ScoreStress} }

// Scorer reduces a sample to the one load figure placement compares with the high-water mark; NaN
// when the sample says nothing usable.
type Scorer func(Sample) float64

// NewScorer returns the scorer registered as name.
func NewScorer(name string) (Scorer, error) {
	switch name {
	case ScoreMax:
		return maxScore, nil
	case ScoreCPU:
		return func(s Sample) float64 { return s.CPU }, nil
	case ScoreStress:
		return func(s Sample) float64 { return s.Stress }, nil
	}
	return nil, fmt.Errorf("unknown load score %q (known: %v)", name, ScoreNames())
}

// maxScore is the larger known value: a node whose bridge reports no stress (older JVB, REST API
// briefly down) is still scored by its CPU, and the other way round.
func maxScore(s Sample) float64 {
	switch {
	case math.IsNaN(s.CPU):
		return s.Stress
	case math.IsNaN(s.Stress):
		return s.CPU
	}
	return max(s.CPU, s.Stress)
}
