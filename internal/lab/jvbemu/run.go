package jvbemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// RunOptions configures Run.
type RunOptions struct {
	// ListenAddress is host:port; 127.0.0.1:0 picks a free port.
	ListenAddress string
	// Emulator configures the emulated bridge.
	Emulator Options
	// Conferences are started at once, one per size.
	Conferences []int
	// Listening, if set, is called with the bound address before serving.
	Listening func(addr net.Addr)
	// Logger receives start and stop messages; nil discards them.
	Logger *slog.Logger
}

// Run serves a new emulator until ctx ends, then shuts the server down.
func Run(ctx context.Context, opts RunOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	emu := New(opts.Emulator)
	for _, n := range opts.Conferences {
		if n < 0 || n > maxConferenceSize {
			return fmt.Errorf("conference size %d out of range 0..%d", n, maxConferenceSize)
		}
		emu.StartConference(n)
	}
	l, err := net.Listen("tcp", opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Cancelled first on shutdown, so that requests held by Hang or Slow
	// end at once instead of holding Shutdown up.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           emu,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Long enough for the Slow and Huge faults; Hang ends when the
		// client gives up.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	if opts.Listening != nil {
		opts.Listening(l.Addr())
	}
	logger.Info("listening", "address", l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	logger.Info("stopped")
	return nil
}
