package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that the first SIGINT or SIGTERM cancels, and a channel that
// the second closes (a daemon's graceful stop can be cut short by a second signal, as systemd's
// stop timeout or an impatient operator sends one). stop releases the signals.
func SignalContext(parent context.Context, logger *slog.Logger) (ctx context.Context, again <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	second := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := 0; i < 2; i++ {
			select {
			case s := <-sigs:
				if i == 0 {
					logger.Info("signal received; stopping", "signal", s.String())
					cancel()
				} else {
					logger.Warn("second signal; stopping now", "signal", s.String())
					close(second)
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, second, func() {
		signal.Stop(sigs)
		close(done)
		<-finished
		cancel()
	}
}
