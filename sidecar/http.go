package sidecar

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ensemble-jitsi/ensemble/exporter"
)

// maxReasonLen caps the drain reason a caller may set; it ends up in Consul and the logs.
const maxReasonLen = 200

// routes builds the one handler every listener serves. own holds the sidecar's metrics; goMetrics,
// if not nil, the go_* and process_* collectors (--web.exporter-metrics).
func routes(o *Options, logger *slog.Logger, own *collectorSet, goMetrics *prometheus.Registry, ctl *controller, health http.Handler) (http.Handler, error) {
	node := o.Exporter
	if node == nil {
		node = exporter.New(nil, exporter.Options{})
	}
	// The families promhttp.InstrumentMetricHandler adds, kept in own so that a scrape gathers no
	// registry unless the runtime metrics are on.
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "promhttp_metric_handler_requests_in_flight",
		Help: "Current number of scrapes being served.",
	})
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_requests_total",
		Help: "Total number of scrapes by HTTP status code.",
	}, []string{"code"})
	for _, code := range []string{"200", "500", "503"} {
		requests.WithLabelValues(code)
	}
	own.MustRegister(inFlight, requests)
	opts := exporter.HandlerOptions{Extra: own, Logger: logger, MaxRequestsInFlight: 4}
	if goMetrics != nil {
		opts.Gatherer = goMetrics
	}
	metricsHandler := promhttp.InstrumentHandlerInFlight(inFlight, promhttp.InstrumentHandlerCounter(requests, node.Handler(opts)))
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "ensemble-sidecar",
		Description: "Jitsi node sidecar: metrics, health, Consul registration and drain",
		Version:     o.Version,
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: "metrics", Text: "Metrics"},
			{Address: "health", Text: "Health", Description: "what the Consul check calls"},
			{Address: "drain", Text: "Drain state", Description: "read-only here; POST /drain and /undrain are on the control listener"},
		},
	})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	mux.Handle("GET /health", health)
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ready\n"))
	})
	// Read-only: the endpoints that change the state are on the control listener only.
	mux.HandleFunc("GET /drain", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ctl.snapshot())
	})
	mux.Handle("GET /{$}", landing)
	return http.MaxBytesHandler(mux, maxBodyBytes), nil
}

func answer(w http.ResponseWriter, code int, st DrainStatus, err error) {
	switch {
	case errors.Is(err, errExiting), errors.Is(err, errBridgeShutdown):
		writeJSON(w, http.StatusConflict, struct {
			Error string `json:"error"`
			DrainStatus
		}{err.Error(), st})
	case err != nil:
		refuse(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeJSON(w, code, st)
	}
}
