package sidecar

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ensemble-jitsi/ensemble/exporter"
)

// maxReasonLen caps the drain reason a caller may set; it ends up in Consul and the logs.
const maxReasonLen = 200

// routes builds the one handler every listener serves.
func routes(o *Options, logger *slog.Logger, own *prometheus.Registry, ctl *controller, health http.Handler) (http.Handler, error) {
	node := o.Exporter
	if node == nil {
		node = exporter.New(nil, exporter.Options{})
	}
	// The sidecar's own registry rides along as an extra gatherer.
	metricsHandler := promhttp.InstrumentMetricHandler(own, node.Handler(exporter.HandlerOptions{
		Gatherer:            own,
		Logger:              logger,
		MaxRequestsInFlight: 4,
	}))
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "ensemble-sidecar",
		Description: "Jitsi node sidecar: metrics, health, Consul registration and drain",
		Version:     o.Version,
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: "metrics", Text: "Metrics"},
			{Address: "health", Text: "Health", Description: "what the Consul check calls"},
			{Address: "drain", Text: "Drain state", Description: "POST /drain and POST /undrain change it"},
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
	mux.HandleFunc("GET /drain", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ctl.snapshot())
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		if !emptyBody(w, r) {
			return
		}
		reason := r.URL.Query().Get("reason")
		if len(reason) > maxReasonLen {
			http.Error(w, "reason too long", http.StatusBadRequest)
			return
		}
		st, err := ctl.request(r.Context(), false, reason)
		answer(w, http.StatusAccepted, st, err)
	})
	mux.HandleFunc("POST /undrain", func(w http.ResponseWriter, r *http.Request) {
		if !emptyBody(w, r) {
			return
		}
		st, err := ctl.request(r.Context(), true, "")
		answer(w, http.StatusOK, st, err)
	})
	mux.Handle("GET /{$}", landing)
	return http.MaxBytesHandler(mux, maxBodyBytes), nil
}

// emptyBody refuses a request that carries a body: the drain endpoints take none, and a
// client sending one is confused or hostile.
func emptyBody(w http.ResponseWriter, r *http.Request) bool {
	n, err := io.Copy(io.Discard, r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
	case err != nil:
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
	case n > 0:
		http.Error(w, "this endpoint takes no body; pass ?reason= in the URL", http.StatusBadRequest)
	default:
		return true
	}
	return false
}

func answer(w http.ResponseWriter, code int, st DrainStatus, err error) {
	switch {
	case errors.Is(err, errExiting):
		writeJSON(w, http.StatusConflict, struct {
			Error string `json:"error"`
			DrainStatus
		}{err.Error(), st})
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		writeJSON(w, code, st)
	}
}
