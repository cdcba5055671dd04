package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
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
// gracefully.
func Run(ctx context.Context, opts RunOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MetricsPath == "" {
		opts.MetricsPath = "/metrics"
	}
	if opts.WebConfigFile != "" {
		if err := web.Validate(opts.WebConfigFile); err != nil {
			return fmt.Errorf("web config %s: %w", opts.WebConfigFile, err)
		}
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

	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	var lc net.ListenConfig
	for _, a := range opts.Addresses {
		l, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen on %s: %w", a, err)
		}
		listeners = append(listeners, l)
	}
	if len(listeners) == 0 {
		return errors.New("no listen address")
	}
	addrs := make([]net.Addr, len(listeners))
	for i, l := range listeners {
		addrs[i] = l.Addr()
		logger.Info("listening", "address", l.Addr().String())
	}

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A scrape may take up to Prometheus's timeout (at most a minute
		// in practice) before the reply is written.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	webFlags := &web.FlagConfig{
		WebListenAddresses: &opts.Addresses,
		WebSystemdSocket:   new(bool),
		WebConfigFile:      &opts.WebConfigFile,
	}
	errc := make(chan error, 1)
	go func() { errc <- web.ServeMultiple(listeners, srv, webFlags, logger) }()
	if opts.Listening != nil {
		opts.Listening(addrs)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
