package soak

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// injectCase is one file of testdata/inject: faults with the time each
// revert took on a real run (seconds), replayed against a stand-in for the
// fleet at a smaller time scale.
type injectCase struct {
	MaxHold   float64 `json:"max_hold"`
	LongClear float64 `json:"long_clear"`
	Events    []struct {
		At     float64 `json:"at"`
		Kind   Kind    `json:"kind"`
		Target string  `json:"target"`
		Hold   float64 `json:"hold"`
		Revert float64 `json:"revert"`
	} `json:"events"`
}

// TestInjectKeepsLongFaultsClear replays fault timings of real runs in
// which a Consul fault, late behind the previous one, would start in the
// first LongClear of a long node fault (or a long fault would start while a
// Consul fault was still being reverted): no Consul fault may be in force
// during that span, whatever the lateness.
func TestInjectKeepsLongFaultsClear(t *testing.T) {
	// One second of the run is scale here: the 30 s hold takes 300 ms.
	const scale = 10 * time.Millisecond
	at := func(s float64) time.Duration { return time.Duration(s * float64(scale)) }
	files, err := filepath.Glob("testdata/inject/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/inject: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c injectCase
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			reverts := map[Event]time.Duration{}
			var plan []Event
			for _, e := range c.Events {
				ev := Event{At: at(e.At), Kind: e.Kind, Target: e.Target, Hold: at(e.Hold)}
				plan = append(plan, ev)
				reverts[ev] = at(e.Revert)
			}
			in := &injector{start: time.Now(), maxHold: at(c.MaxHold), longClear: at(c.LongClear),
				applyFn: func(ctx context.Context, e Event, _ *FaultRecord) (func(context.Context) error, error) {
					return func(ctx context.Context) error { sleep(ctx, reverts[e]); return nil }, nil
				}}
			recs := in.run(context.Background(), plan)
			if len(recs) != len(plan) {
				t.Fatalf("%d faults recorded, want %d", len(recs), len(plan))
			}
			long := 0
			for _, l := range recs {
				if l.Hold <= in.maxHold || !l.Kind.nodeFault() {
					continue
				}
				long++
				clearEnd := l.Applied + in.longClear
				for _, r := range recs {
					if (r.Kind == ConsulServerKill || r.Kind == ConsulAgentRestart) && r.Applied < clearEnd && l.Applied < r.Reverted {
						t.Errorf("%s in force from %.1fs to %.1fs, during the first %.1fs of the long %s applied at %.1fs",
							r.Kind, r.Applied.Seconds()/scale.Seconds(), r.Reverted.Seconds()/scale.Seconds(),
							c.LongClear, l.Kind, l.Applied.Seconds()/scale.Seconds())
					}
				}
			}
			if long == 0 {
				t.Fatal("the case has no long node fault")
			}
		})
	}
}
