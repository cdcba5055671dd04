// Package httpserve binds, serves and shuts down the HTTP listeners of
// Ensemble's daemons (exporter, sidecar, selector) in one way: every
// address bound before anything is served (so ":0" resolves to a port the
// caller can log), one http.Server per listener, exporter-toolkit's TLS and
// basic auth from a web config file, the same timeouts, and a graceful
// shutdown bounded in time.
//
// One server per listener matters: exporter-toolkit's web.Serve replaces
// server.Handler with its own wrapper on every call, so two listeners
// served through one server (as web.ServeMultiple does) race on it.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// Defaults of Options' zero fields.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	// DefaultWriteTimeout leaves room for a scrape that takes up to
	// Prometheus's timeout (at most a minute in practice) before the reply
	// is written.
	DefaultWriteTimeout    = 2 * time.Minute
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultShutdownTimeout = 5 * time.Second
)

// Options configure Start and Serve. Zero durations and sizes take the
// defaults above.
type Options struct {
	Handler http.Handler
	// WebConfigFile is exporter-toolkit's TLS/basic-auth file ("" = plain
	// HTTP). It is validated by Start.
	WebConfigFile string
	Logger        *slog.Logger

	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	// ShutdownTimeout bounds Serve's graceful shutdown.
	ShutdownTimeout time.Duration
}

// Listen binds every address ("host:port", TCP) and logs each bound
// address; on a failure it closes those already bound. No address is an
// error.
func Listen(ctx context.Context, addrs []string, logger *slog.Logger) ([]net.Listener, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(addrs) == 0 {
		return nil, errors.New("no listen address")
	}
	var lc net.ListenConfig
	ls := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		l, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			for _, l := range ls {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
		ls = append(ls, l)
		logger.Info("listening", "address", l.Addr().String())
	}
	return ls, nil
}

// Addrs returns the listeners' bound addresses.
func Addrs(ls []net.Listener) []net.Addr {
	addrs := make([]net.Addr, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr()
	}
	return addrs
}

// Group is a set of running servers, one per listener.
type Group struct {
	servers         []*http.Server
	errs            chan error
	shutdownTimeout time.Duration
	fresh           freshConns
}

// freshConns tracks accepted connections that have not yet sent a byte of
// a request. net/http's Shutdown waits for them for five seconds before
// treating them as idle, so a client that opens a spare connection (Go's
// Transport does when two dials race; browsers preconnect) would hold
// every shutdown for that long. At shutdown they are closed at once, like
// idle keep-alive connections: the client has nothing in flight on them.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		if f.conns == nil {
			f.conns = make(map[net.Conn]struct{})
		}
		f.conns[c] = struct{}{}
		return
	}
	delete(f.conns, c)
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}

// Start serves opts.Handler on every listener, each through its own
// http.Server, and returns at once. A listener that stops serving for a
// reason other than Shutdown reports on Err.
func Start(listeners []net.Listener, opts Options) (*Group, error) {
	if len(listeners) == 0 {
		return nil, errors.New("no listener")
	}
	if opts.WebConfigFile != "" {
		if err := web.Validate(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("web config %s: %w", opts.WebConfigFile, err)
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	def := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	maxHeader := opts.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	// Serve reads only WebConfigFile from the flags.
	flags := &web.FlagConfig{
		WebListenAddresses: new([]string),
		WebSystemdSocket:   new(bool),
		WebConfigFile:      &opts.WebConfigFile,
	}
	g := &Group{
		errs:            make(chan error, len(listeners)),
		shutdownTimeout: def(opts.ShutdownTimeout, DefaultShutdownTimeout),
	}
	for _, l := range listeners {
		srv := &http.Server{
			Handler:           opts.Handler,
			ReadHeaderTimeout: def(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			ReadTimeout:       def(opts.ReadTimeout, DefaultReadTimeout),
			WriteTimeout:      def(opts.WriteTimeout, DefaultWriteTimeout),
			IdleTimeout:       def(opts.IdleTimeout, DefaultIdleTimeout),
			MaxHeaderBytes:    maxHeader,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			ConnState:         g.fresh.track,
		}
		// Shutdown has closed the listeners when it runs this, so no new
		// connection can join the set.
		srv.RegisterOnShutdown(g.fresh.closeAll)
		g.servers = append(g.servers, srv)
		go func() {
			if err := web.Serve(l, srv, flags, logger); !errors.Is(err, http.ErrServerClosed) {
				g.errs <- fmt.Errorf("serving on %s: %w", l.Addr(), err)
			}
		}()
	}
	return g, nil
}

// Err receives the first error of a listener that stopped serving on its
// own (never a Shutdown's).
func (g *Group) Err() <-chan error { return g.errs }

// Shutdown shuts every server down gracefully within ctx. Connections
// still open when ctx ends are closed, so nothing outlives the call.
func (g *Group) Shutdown(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// In parallel: one slow request must not use up the others' time.
	for _, srv := range g.servers {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Serve is Start, then waiting for ctx to end or a listener to fail, then
// a graceful shutdown bounded by opts.ShutdownTimeout. It returns nil
// after a shutdown that ctx asked for.
func Serve(ctx context.Context, listeners []net.Listener, opts Options) error {
	g, err := Start(listeners, opts)
	if err != nil {
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-g.Err():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.shutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, g.Shutdown(sctx))
}
