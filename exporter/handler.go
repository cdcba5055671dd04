package exporter

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends its scrape timeout.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Extra adds the program's own metrics (build info, Go runtime,
	// process; see NewProgramRegistry) to every response; nil adds nothing.
	// It is collected in the same pass as the Exporter: merging a second
	// registry's Gather would double the per-scrape allocations.
	Extra prometheus.Collector
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

// Handler serves the Exporter's metrics (plus opts.Extra's) in the
// format the scraper asks for. Each request's collectors are bounded by the
// scrape timeout Prometheus sends in ScrapeTimeoutHeader, so a hung source
// costs its own metrics and never the whole scrape. A failing collector
// yields a partial reply (its success meta-metric says so), never a 500.
//
// Replies are not compressed: a scrape is a few kilobytes on the node's own
// network, and gzip would cost more CPU than the rest of the scrape.
func (e *Exporter) Handler(opts HandlerOptions) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = e.timeout
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
		if opts.Extra != nil {
			reg.MustRegister(unchecked{opts.Extra})
		}
		mfs, err := reg.Gather()
		if err != nil {
			logger.Error("inconsistent metrics; serving the consistent ones", "err", err)
			if len(mfs) == 0 {
				http.Error(w, "gathering metrics failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		format := expfmt.NegotiateAccept(r.Header, expfmt.FmtText, expfmt.FmtProtoDelim)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				logger.Debug("writing metrics", "err", err) // the scraper went away
				return
			}
		}
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

// unchecked registers a collector without its descriptors, which a
// registry made for one request has no use for.
type unchecked struct{ prometheus.Collector }

func (unchecked) Describe(chan<- *prometheus.Desc) {}
