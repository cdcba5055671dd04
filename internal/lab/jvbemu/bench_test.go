package jvbemu

import (
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkStatsJSON renders /colibri/stats for the sample's state.
func BenchmarkStatsJSON(b *testing.B) {
	e := sampleEmulator()
	b.ReportAllocs()
	for b.Loop() {
		if len(e.statsJSON()) == 0 {
			b.Fatal("empty")
		}
	}
}

// BenchmarkStatsJSONBaseline is the floor to compare with: encoding/json
// marshalling the same 82 members from a map (which loses their order).
func BenchmarkStatsJSONBaseline(b *testing.B) {
	sample, err := os.ReadFile("testdata/colibri-stats-sample.json")
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(sample, &m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := json.Marshal(m)
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}
