package exporter

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/textfmt"
)

// ScrapeTimeoutHeader is the header in which Prometheus sends its scrape timeout.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Extra adds a few metrics of the program's own (its build info, see
	// NewProgramRegistry) to every response; nil adds nothing. They are
	// collected in the same pass as the Exporter's and written the same way.
	Extra prometheus.Collector
	// Gatherer adds the families of another registry (the Go runtime's, see
	// NewRuntimeRegistry, or a program's own instrumented metrics) to every
	// response; nil adds nothing. Its names must differ from the
	// Exporter's. Histograms and summaries belong here rather than in
	// Extra, where they would send the whole scrape through a registry.
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

// Handler serves the Exporter's metrics (plus opts.Extra's and
// opts.Gatherer's) in the format the scraper asks for. Each request's
// collectors are bounded by the scrape timeout Prometheus sends in
// ScrapeTimeoutHeader, so a hung source costs its own metrics and never the
// whole scrape. A failing collector yields a partial reply (its success
// meta-metric says so), never a 500.
//
// The text format is written directly from the collected metrics (see
// textfmt.Writer), which costs a fraction of the registry's gathering and
// encoding; other formats, and metrics the text writer does not handle, go
// through a registry made for the request.
//
// Replies are not compressed: a scrape is a few kilobytes on the node's own
// network, and gzip would cost more CPU than the rest of the scrape.
func (e *Exporter) Handler(opts HandlerOptions) http.Handler {
	h := &handler{e: e, opts: opts, logger: opts.Logger, text: textfmt.New()}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.opts.Timeout <= 0 {
		h.opts.Timeout = e.timeout
	}
	if opts.MaxRequestsInFlight > 0 {
		h.inflight = make(chan struct{}, opts.MaxRequestsInFlight)
	}
	h.metrics.New = func() any { return new([]prometheus.Metric) }
	return h
}

type handler struct {
	e        *Exporter
	opts     HandlerOptions
	logger   *slog.Logger
	inflight chan struct{}
	text     *textfmt.Writer
	metrics  sync.Pool // *[]prometheus.Metric
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.inflight != nil {
		select {
		case h.inflight <- struct{}{}:
			defer func() { <-h.inflight }()
		default:
			http.Error(w, "too many concurrent scrapes", http.StatusServiceUnavailable)
			return
		}
	}
	ctx, cancel := ScrapeContext(r, h.opts.Timeout, h.opts.Offset)
	defer cancel()
	msp := h.metrics.Get().(*[]prometheus.Metric)
	defer func() {
		clear(*msp)
		*msp = (*msp)[:0]
		h.metrics.Put(msp)
	}()
	h.e.collect(ctx, func(m prometheus.Metric) { *msp = append(*msp, m) })
	if h.opts.Extra != nil {
		ch := make(chan prometheus.Metric, 16)
		go func() {
			defer close(ch)
			h.opts.Extra.Collect(ch)
		}()
		for m := range ch {
			*msp = append(*msp, m)
		}
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.FmtText, expfmt.FmtProtoDelim)
	if format.FormatType() == expfmt.TypeTextPlain {
		var extra []*dto.MetricFamily
		var err error
		if h.opts.Gatherer != nil {
			extra, err = h.opts.Gatherer.Gather()
		}
		if err == nil && h.text.Write(*msp, extra, func(b []byte) {
			w.Header().Set("Content-Type", string(format))
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			if _, err := w.Write(b); err != nil {
				h.logger.Debug("writing metrics", "err", err) // the scraper went away
			}
		}) {
			return
		}
	}
	h.serveGathered(w, format, *msp)
}

// serveGathered is the general path: ms gathered through a registry (which
// checks them) together with opts.Gatherer, encoded by expfmt.
func (h *handler) serveGathered(w http.ResponseWriter, format expfmt.Format, ms []prometheus.Metric) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(replay(ms))
	gatherers := prometheus.Gatherers{reg}
	if h.opts.Gatherer != nil {
		gatherers = append(gatherers, h.opts.Gatherer)
	}
	mfs, err := gatherers.Gather()
	if err != nil {
		h.logger.Error("inconsistent metrics; serving the consistent ones", "err", err)
		if len(mfs) == 0 {
			http.Error(w, "gathering metrics failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			h.logger.Debug("writing metrics", "err", err) // the scraper went away
			return
		}
	}
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

// replay is an unchecked collector sending metrics already collected.
type replay []prometheus.Metric

func (replay) Describe(chan<- *prometheus.Desc) {}

func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}
