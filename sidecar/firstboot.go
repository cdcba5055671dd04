package sidecar

import (
	"context"
	"fmt"
)

// firstbootProbe fails /health for as long as the process runs: a node whose first boot
// failed stays out of service until the next boot applies good user-data.
func firstbootProbe(verdict error) Probe {
	return ProbeFunc("firstboot", func(context.Context) error { return verdict })
}

// idle replaces loop on a node whose first boot failed: nothing is registered in Consul, so
// there is nothing to drain; drain requests are refused with the reason, and the process
// ends when ctx does.
func (c *controller) idle(ctx context.Context, serveErr <-chan error, verdict error) error {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			c.logger.Info("stopping; the node was never registered")
			return nil
		case req := <-c.requests:
			req.reply <- drainReply{status: c.snapshot(), err: fmt.Errorf("first boot failed, the node is not registered: %w", verdict)}
		case err := <-serveErr:
			return fmt.Errorf("serving: %w", err)
		}
	}
}
