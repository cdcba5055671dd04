package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ensemble-jitsi/ensemble/internal/httpserve"
)

// RunOptions configure Run.
type RunOptions struct {
	Exporter *Exporter
	// Extra adds the program's build info (see NewProgramRegistry).
	Extra prometheus.Collector
	// Gatherer adds another registry's families (see NewRuntimeRegistry).
	Gatherer prometheus.Gatherer
	// Addresses to listen on, e.g. "127.0.0.1:0"; each is bound before
	// serving, so the chosen port is known and logged.
	Addresses []string
	// WebConfigFile is exporter-toolkit's TLS/basic-auth file ("" = plain HTTP).
	WebConfigFile string
	// MetricsPath serves the metrics; "/" is served by a landing page otherwise.
	MetricsPath string
	// MaxRequestsInFlight bounds concurrent scrapes (0 = no bound).
	MaxRequestsInFlight int
	// Version is shown on the landing page.
	Version string
	Logger  *slog.Logger
	// Listening, when set, receives the bound addresses once serving starts.
	Listening func(addrs []net.Addr)
}

// Run serves the Exporter over HTTP until ctx is done, then shuts down
// gracefully (internal/httpserve: one server per listener).
func Run(ctx context.Context, opts RunOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MetricsPath == "" {
		opts.MetricsPath = "/metrics"
	}
	mux := http.NewServeMux()
	mux.Handle(opts.MetricsPath, opts.Exporter.Handler(HandlerOptions{
		Extra: opts.Extra, Gatherer: opts.Gatherer, Logger: logger, MaxRequestsInFlight: opts.MaxRequestsInFlight,
	}))
	if opts.MetricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Ensemble exporter",
			Description: "CPU, memory, network, nginx and Jitsi Videobridge metrics",
			Version:     opts.Version,
			Links:       []web.LandingLinks{{Address: opts.MetricsPath, Text: "Metrics"}},
		})
		if err != nil {
			return fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}

	listeners, err := httpserve.Listen(ctx, opts.Addresses, logger)
	if err != nil {
		return err
	}
	g, err := httpserve.Start(listeners, httpserve.Options{
		Handler: mux, WebConfigFile: opts.WebConfigFile, Logger: logger,
	})
	if err != nil {
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	if opts.Listening != nil {
		opts.Listening(httpserve.Addrs(listeners))
	}
	var serveErr error
	select {
	case serveErr = <-g.Err():
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpserve.DefaultShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, g.Shutdown(shutdownCtx))
}
