package sidecar

import "github.com/prometheus/client_golang/prometheus"

// metrics are the sidecar's own, kept in a registry apart from the exporter's.
type metrics struct {
	registered    prometheus.Gauge
	registrations prometheus.Counter
	consulErrors  *prometheus.CounterVec
	drainState    *prometheus.GaugeVec
	probeSuccess  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		registered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ensemble_sidecar_consul_registered",
			Help: "1 while the service is known to be registered in the local Consul agent.",
		}),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ensemble_sidecar_consul_registrations_total",
			Help: "Successful writes of the service registration to Consul.",
		}),
		consulErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ensemble_sidecar_consul_errors_total",
			Help: "Failed Consul calls by operation.",
		}, []string{"operation"}),
		drainState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensemble_sidecar_drain_state",
			Help: "1 for the current drain state (serving, draining, drained), 0 for the others.",
		}, []string{"state"}),
		probeSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ensemble_sidecar_health_probe_success",
			Help: "1 if the health probe passed on its last run.",
		}, []string{"probe"}),
	}
	for _, op := range []string{"registration", "maintenance", "deregistration", "watch"} {
		m.consulErrors.WithLabelValues(op)
	}
	reg.MustRegister(m.registered, m.registrations, m.consulErrors, m.drainState, m.probeSuccess)
	return m
}
