package selector

import (
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/load"
)

// TestLoadScore: --load.score decides which figure placement compares. Node a's CPU is idle but its
// bridge is stressed, node c's CPU is busy but its bridge is calm; least-loaded then names a different
// node for each score.
func TestLoadScore(t *testing.T) {
	now := time.Now()
	samples := map[string]load.Sample{
		"a": {CPU: 0.2, Stress: 0.9, At: now},
		"b": {CPU: 0.5, Stress: 0.3, At: now},
		"c": {CPU: 0.95, Stress: 0.2, At: now},
	}
	for score, want := range map[string]struct {
		node string
		load float64
	}{
		load.ScoreMax:    {"b", 0.5},
		load.ScoreCPU:    {"a", 0.2},
		load.ScoreStress: {"c", 0.2},
	} {
		t.Run(score, func(t *testing.T) {
			s, _ := inProcessWith(t, func(o *Options) { o.LoadScore, o.Policy = score, "least-loaded" })
			s.loaded.Store(&loadState{samples: samples})
			s.publish(s.view.Load().cat)
			res, f := s.place(t.Context(), "standup", "", nil)
			if f != nil {
				t.Fatalf("place: %+v", f)
			}
			if res.Node.ID != want.node || res.Node.Load != want.load {
				t.Fatalf("placed on %s with load %v, want %s with %v", res.Node.ID, res.Node.Load, want.node, want.load)
			}
		})
	}
	opts := DefaultOptions()
	opts.LoadScore = "mean"
	if _, err := New(opts); err == nil {
		t.Fatal("unknown load score accepted")
	}
}
