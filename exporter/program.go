package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// NewProgramRegistry returns a registry with the program's build info,
// PROGRAM_build_info (from prometheus/common/version, set through ldflags),
// to pass as HandlerOptions.Extra.
func NewProgramRegistry(program string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(versioncollector.NewCollector(program))
	return reg
}

// NewRuntimeRegistry returns a registry with the Go runtime (go_*) and
// process (process_*) collectors, to pass as HandlerOptions.Gatherer: the
// registry gathers their histograms and summaries itself, and the handler
// still writes the Exporter's metrics directly. They cost more CPU per
// scrape than all the built-in collectors together
// (BenchmarkProgramMetrics), so programs make them opt-in.
func NewRuntimeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
