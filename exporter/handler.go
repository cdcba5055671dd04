package exporter

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends its scrape timeout.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Gatherer adds the program's own metrics (build info, Go runtime,
	// process) to every response; nil adds nothing.
	Gatherer prometheus.Gatherer
	// Logger receives encoding errors; nil discards them.
	Logger *slog.Logger
	// Timeout bounds a scrape without the Prometheus header; zero means the
	// Exporter's own timeout.
	Timeout time.Duration
	// Offset is taken off the header's timeout so the reply reaches
	// Prometheus before it gives up; zero means 10 % of the timeout.
	Offset time.Duration
	// MaxRequestsInFlight answers 503 beyond this many concurrent scrapes;
	// zero means no limit.
	MaxRequestsInFlight int
}

// Handler serves the Exporter's metrics (plus opts.Gatherer's) in the
// Prometheus text or protobuf formats. Each request's collectors are bounded
// by the scrape timeout Prometheus sends in ScrapeTimeoutHeader, so a hung
// source costs its own metrics and never the whole scrape.
func (e *Exporter) Handler(opts HandlerOptions) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = e.timeout
	}
	hopts := promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}
	var inflight chan struct{}
	if opts.MaxRequestsInFlight > 0 {
		inflight = make(chan struct{}, opts.MaxRequestsInFlight)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inflight != nil {
			select {
			case inflight <- struct{}{}:
				defer func() { <-inflight }()
			default:
				http.Error(w, "too many concurrent scrapes", http.StatusServiceUnavailable)
				return
			}
		}
		ctx, cancel := ScrapeContext(r, opts.Timeout, opts.Offset)
		defer cancel()
		// A registry per request is how the request's deadline reaches
		// Collect, which has no context parameter.
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.WithContext(ctx))
		var g prometheus.Gatherer = reg
		if opts.Gatherer != nil {
			g = prometheus.Gatherers{opts.Gatherer, reg}
		}
		promhttp.HandlerFor(g, hopts).ServeHTTP(w, r)
	})
}

// ScrapeContext derives the context of one scrape from r: its deadline is
// the timeout in ScrapeTimeoutHeader minus offset (zero offset: 10 %), or
// fallback when the header is missing or invalid.
func ScrapeContext(r *http.Request, fallback, offset time.Duration) (context.Context, context.CancelFunc) {
	timeout := fallback
	if v := r.Header.Get(ScrapeTimeoutHeader); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 && secs < 1e6 {
			timeout = time.Duration(secs * float64(time.Second))
			if offset <= 0 || offset >= timeout {
				offset = timeout / 10
			}
			timeout -= offset
		}
	}
	return context.WithTimeout(r.Context(), timeout)
}
