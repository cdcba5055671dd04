package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	small := []string{"--nodes=10", "--day=1h", "--meetings=400", "--no-progress", "--crash.at=30m", "--drain.at=40m"}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, stdout, stderr string)
	}{
		{"table", small, 0, func(t *testing.T, out, _ string) {
			for _, p := range []string{"most-free-cpu", "least-loaded", "p2c", "best-of-d", "bounded-hash", "random", "oracle"} {
				if !strings.Contains(out, p) {
					t.Errorf("table lacks %s:\n%s", p, out)
				}
			}
		}},
		{"json with plot", append(small, "--output.format=json", "--policy=p2c", "--no-oracle", "--plot.policy=most-free-cpu", "--plot.file="+filepath.Join(dir, "load.png")), 0,
			func(t *testing.T, out, _ string) {
				var doc struct{ Results []struct{ Policy string } }
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatal(err)
				}
				// The plot's policies are simulated even when not asked for.
				if len(doc.Results) != 2 || doc.Results[0].Policy != "p2c" || doc.Results[1].Policy != "most-free-cpu" {
					t.Fatalf("results %+v", doc.Results)
				}
				png, err := os.ReadFile(filepath.Join(dir, "load.png"))
				if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
					t.Fatalf("no PNG written: %v", err)
				}
			}},
		{"trace", []string{"--trace=../../../sim/testdata/trace.csv", "--no-progress", "--day=2h", "--output.format=csv", "--no-crash", "--no-drain"}, 0,
			func(t *testing.T, out, errOut string) {
				if n := strings.Count(out, "\n"); n != 8 { // header, six policies, the oracle
					t.Fatalf("CSV has %d lines:\n%s", n, out)
				}
				if errOut != "" {
					t.Errorf("stderr %q", errOut)
				}
			}},
		{"trace day", []string{"--trace=../../../sim/testdata/trace.csv", "--no-progress", "--output.format=json", "--policy=p2c"}, 0,
			func(t *testing.T, out, _ string) {
				var doc struct {
					Scenario struct {
						SimulatedNs int64 `json:"simulated_ns"`
					}
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatal(err)
				}
				if doc.Scenario.SimulatedNs != 70*60e9 { // the last participant leaves at 4200 s
					t.Fatalf("day %d ns, want the trace's 70 minutes", doc.Scenario.SimulatedNs)
				}
			}},
		{"trace cut", []string{"--trace=../../../sim/testdata/trace.csv", "--no-progress", "--day=5m", "--policy=p2c"}, 0,
			func(t *testing.T, _, errOut string) {
				if !strings.Contains(errOut, "warning: the trace runs to 1h10m0s but the day ends at 5m0s: 1 participants") {
					t.Fatalf("no cut warning: %q", errOut)
				}
			}},
		{"progress bar", []string{"--nodes=10", "--day=1h", "--meetings=400", "--policy=random"}, 0, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "] 100% ") {
				t.Errorf("no progress on stderr: %q", errOut)
			}
		}},
		{"unknown policy", []string{"--policy=fastest"}, 2, nil},
		{"bad number", []string{"--nodes=many"}, 2, nil},
		{"bad scenario", []string{"--nodes=0", "--no-progress"}, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "nodes must be") {
				t.Errorf("stderr %q does not say what is wrong", errOut)
			}
		}},
		{"missing trace", []string{"--trace=" + filepath.Join(dir, "nope.csv")}, 2, nil},
		{"bad trace", []string{"--trace=main.go"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.check != nil {
				tc.check(t, stdout.String(), stderr.String())
			}
		})
	}
}
