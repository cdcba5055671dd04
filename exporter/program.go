package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// NewProgramRegistry returns a registry with the program's own metrics:
// PROGRAM_build_info (from prometheus/common/version, set through ldflags)
// and, if runtime is set, the Go runtime (go_*) and process (process_*)
// collectors. Those two cost more CPU per scrape than all the built-in
// collectors together (BenchmarkProgramMetrics), so they are opt-in.
func NewProgramRegistry(program string, runtime bool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(program))
	if runtime {
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	return reg
}
