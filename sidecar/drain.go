package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// bridgeCallTimeout bounds each call to the videobridge during a drain.
const bridgeCallTimeout = 2 * time.Second

// bridgeGonePolls is how many drain poll intervals the bridge must refuse connections in a row
// before a drain stops waiting for its meetings. A refused connection means no process listens
// on the bridge's port: the bridge crashed or was stopped, and conferences live in its memory,
// so it hosts none. Waiting three polls (15 s with the default 5 s poll) instead of acting on
// one refusal lets a bridge that systemd is restarting answer for itself (a fresh bridge reports
// no conferences, which ends the drain the usual way), and still keeps "systemctl stop
// ensemble-sidecar" after a bridge crash short. A bridge that
// times out or answers errors is not "gone": a hung or overloaded bridge may still carry
// meetings, so the drain keeps waiting for those until its deadline.
const bridgeGonePolls = 3

// videobridge is the part of the videobridge's REST API a drain uses.
type videobridge interface {
	// Load returns the conferences and participants on the bridge.
	Load(ctx context.Context) (conferences, participants int, err error)
	// GracefulShutdown makes the bridge refuse new conferences and stop once empty.
	GracefulShutdown(ctx context.Context) error
	// Drain turns the bridge's drain mode (no new conferences) on or off.
	Drain(ctx context.Context, enable bool) error
	// ShuttingDown reports whether the bridge is in graceful shutdown or shutting down, from
	// which it never returns to taking conferences.
	ShuttingDown(ctx context.Context) (bool, error)
}

// State is where the node is in the drain state machine.
type State string

// The drain states: serving → draining → drained, and back to serving on undrain.
const (
	StateServing  State = "serving"
	StateDraining State = "draining"
	StateDrained  State = "drained"
)

// Bridge modes recorded in DrainStatus.
const (
	bridgeGracefulShutdown = "graceful-shutdown"
	bridgeDrain            = "drain"
)

// DrainStatus is the body of GET /drain, POST /drain and POST /undrain.
type DrainStatus struct {
	State  State  `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Exiting is true once Run was asked to stop: the drain ends the process.
	Exiting  bool      `json:"exiting"`
	Since    time.Time `json:"since,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Conferences and Participants are the bridge's counts at the last poll.
	Conferences  int    `json:"conferences"`
	Participants int    `json:"participants"`
	LoadError    string `json:"load_error,omitempty"`
	// BridgeMode says how the bridge was told to take no new conferences, if at all.
	BridgeMode string `json:"bridge_mode,omitempty"`
	// BridgeUnreachableSince is when the bridge started refusing connections during this drain
	// (zero while it answers): Conferences and Participants are then the last counts it gave.
	BridgeUnreachableSince time.Time `json:"bridge_unreachable_since,omitzero"`
}

var errExiting = errors.New("the sidecar is shutting down; the drain cannot be undone")

// errBridgeShutdown refuses an undrain: a bridge in graceful shutdown takes no new conferences
// until it is restarted, so putting the node back into placement would send meetings to it.
var errBridgeShutdown = errors.New("the bridge is in graceful shutdown and cannot take new conferences; restart it (a restarted sidecar comes back serving)")

type drainRequest struct {
	undrain bool
	reason  string
	reply   chan drainReply
}

type drainReply struct {
	status DrainStatus
	err    error
}

// controller runs the drain state machine. One goroutine (loop) owns the state; the HTTP
// handlers talk to it through requests and read snapshots.
type controller struct {
	opts    *Options
	logger  *slog.Logger
	reg     *registrar
	bridge  videobridge // nil when no bridge is configured
	metrics *metrics

	requests chan drainRequest
	done     chan struct{} // closed when loop returns

	mu     sync.Mutex
	status DrainStatus

	regCancel context.CancelFunc
	regDone   chan struct{}

	// Owned by loop.
	exiting      bool
	nextProgress time.Time
}

func newController(o *Options, logger *slog.Logger, reg *registrar, bridge videobridge, m *metrics) *controller {
	c := &controller{
		opts: o, logger: logger, reg: reg, bridge: bridge, metrics: m,
		requests: make(chan drainRequest),
		done:     make(chan struct{}),
	}
	c.setStatus(DrainStatus{State: StateServing})
	return c
}

func (c *controller) snapshot() DrainStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *controller) setStatus(s DrainStatus) {
	c.mu.Lock()
	c.status = s
	c.mu.Unlock()
	for _, st := range []State{StateServing, StateDraining, StateDrained} {
		v := 0.0
		if st == s.State {
			v = 1
		}
		c.metrics.drainState.WithLabelValues(string(st)).Set(v)
	}
}

// request hands a drain or undrain to the loop and waits for its answer.
func (c *controller) request(ctx context.Context, undrain bool, reason string) (DrainStatus, error) {
	req := drainRequest{undrain: undrain, reason: reason, reply: make(chan drainReply, 1)}
	select {
	case c.requests <- req:
	case <-c.done:
		return c.snapshot(), errExiting
	case <-ctx.Done():
		return c.snapshot(), ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.status, r.err
	case <-ctx.Done():
		return c.snapshot(), ctx.Err()
	}
}

func (c *controller) startRegistrar(work context.Context) {
	ctx, cancel := context.WithCancel(work)
	c.regCancel, c.regDone = cancel, make(chan struct{})
	go func() {
		defer close(c.regDone)
		c.reg.run(ctx)
	}()
}

func (c *controller) stopRegistrar() {
	if c.regCancel != nil {
		c.regCancel()
		<-c.regDone
		c.regCancel = nil
	}
}

// loop keeps the node registered and runs drains until the process should exit. The end of
// ctx is the first stop signal: it starts a drain that ends Run. work outlives ctx so the
// drain can still talk to Consul and the bridge.
func (c *controller) loop(ctx, work context.Context, serveErr <-chan error) error {
	defer close(c.done)
	c.startRegistrar(work)
	defer c.stopRegistrar()
	var (
		stop    = ctx.Done()
		skip    = c.opts.SkipWait
		skipped bool
		ticker  = time.NewTicker(c.opts.DrainPollInterval)
	)
	defer ticker.Stop()
	// finished reports whether the drain in progress may end now.
	finished := func() bool { return skipped || c.poll(work) }
	for {
		var tick <-chan time.Time
		if c.snapshot().State == StateDraining {
			tick = ticker.C
		}
		select {
		case <-stop:
			stop, c.exiting = nil, true
			st := c.snapshot()
			st.Exiting = true
			c.setStatus(st)
			switch st.State {
			case StateDrained:
				c.logger.Info("stopping; the node was already drained")
				return nil
			case StateServing:
				c.begin(work, "stop signal")
				ticker.Reset(c.opts.DrainPollInterval)
			default:
				c.logger.Info("stop requested; the running drain will end the process")
			}
			if finished() {
				return c.finish(work, "no meetings left")
			}
		case <-skip:
			skip, skipped = nil, true
			if c.snapshot().State == StateDraining {
				c.logger.Warn("second stop signal: ending the drain without waiting for meetings")
				if err := c.finish(work, "wait skipped"); c.exiting {
					return err
				}
			}
		case req := <-c.requests:
			req.reply <- c.handle(work, req)
			if req.undrain || c.snapshot().State != StateDraining {
				continue
			}
			ticker.Reset(c.opts.DrainPollInterval)
			if finished() {
				if err := c.finish(work, "no meetings left"); c.exiting {
					return err
				}
			}
		case <-tick:
			switch {
			case finished():
				if err := c.finish(work, "no meetings left"); c.exiting {
					return err
				}
			case c.bridgeGone():
				c.logger.Warn("the bridge refuses connections: it hosts no meetings; ending the drain",
					"unreachable_for", time.Since(c.snapshot().BridgeUnreachableSince).Round(time.Millisecond))
				if err := c.finish(work, "bridge unreachable"); c.exiting {
					return err
				}
			case !time.Now().Before(c.snapshot().Deadline):
				c.logger.Warn("drain timeout reached with meetings still running", "timeout", c.opts.DrainTimeout)
				if err := c.finish(work, "drain timeout"); c.exiting {
					return err
				}
			}
		case err := <-serveErr:
			c.logger.Error("web server failed; deregistering and stopping", "err", err)
			c.stopRegistrar()
			if _, derr := c.reg.deregister(work); derr != nil {
				c.logger.Error("deregistration failed", "err", derr)
			}
			return fmt.Errorf("serving: %w", err)
		}
	}
}

func (c *controller) handle(work context.Context, req drainRequest) drainReply {
	st := c.snapshot()
	switch {
	case !req.undrain && st.State == StateServing:
		c.begin(work, req.reason)
	case req.undrain && c.exiting:
		return drainReply{status: st, err: errExiting}
	case req.undrain && st.State != StateServing && c.bridgeShutDown(work, st):
		c.logger.Warn("undrain refused: the bridge is shutting down")
		return drainReply{status: st, err: errBridgeShutdown}
	case req.undrain && st.State != StateServing:
		c.undrain(work, st)
	}
	return drainReply{status: c.snapshot()}
}

// bridgeShutDown reports whether the bridge can no longer take conferences: this drain put it
// into graceful shutdown, or it says so itself (someone else shut it down). A bridge that does
// not answer is not held against the undrain: its health check keeps it out of placement.
func (c *controller) bridgeShutDown(work context.Context, st DrainStatus) bool {
	if st.BridgeMode == bridgeGracefulShutdown {
		return true
	}
	if c.bridge == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(work, bridgeCallTimeout)
	defer cancel()
	down, err := c.bridge.ShuttingDown(ctx)
	if err != nil {
		c.logger.Warn("cannot tell whether the bridge is shutting down; undraining", "err", err)
		return false
	}
	return down
}

// begin enters draining: Consul maintenance first, since that is what takes the node out of
// placement, then the bridge.
func (c *controller) begin(work context.Context, reason string) {
	if reason == "" {
		reason = "drain requested"
	}
	now := time.Now()
	st := DrainStatus{State: StateDraining, Reason: reason, Exiting: c.exiting, Since: now, Deadline: now.Add(c.opts.DrainTimeout)}
	if err := c.reg.setMaintenance(work, "ensemble-sidecar drain: "+reason); err != nil {
		c.logger.Error("enabling maintenance failed; the resync will retry", "err", err)
	} else {
		c.logger.Info("drain started: consul maintenance enabled", "reason", reason, "timeout", c.opts.DrainTimeout)
	}
	if c.bridge != nil && c.opts.DrainJVBGracefulShutdown {
		st.BridgeMode = c.stopBridge(work)
	}
	c.nextProgress = now.Add(c.opts.DrainProgressInterval)
	c.setStatus(st)
}

// stopBridge asks for graceful shutdown and falls back to drain mode, which bridges with the
// shutdown API disabled (the default) still offer.
func (c *controller) stopBridge(work context.Context) string {
	ctx, cancel := context.WithTimeout(work, bridgeCallTimeout)
	defer cancel()
	err := c.bridge.GracefulShutdown(ctx)
	if err == nil {
		c.logger.Info("bridge graceful shutdown requested")
		return bridgeGracefulShutdown
	}
	c.logger.Warn("bridge graceful shutdown failed; trying drain mode", "err", err)
	ctx2, cancel2 := context.WithTimeout(work, bridgeCallTimeout)
	defer cancel2()
	if err := c.bridge.Drain(ctx2, true); err != nil {
		c.logger.Error("bridge drain mode failed; waiting for meetings anyway", "err", err)
		return ""
	}
	c.logger.Info("bridge drain mode enabled")
	return bridgeDrain
}

// poll asks the bridge for its load, logs progress now and then, and reports whether no
// meeting is left. A bridge that cannot answer counts as busy: cutting a meeting is worse
// than waiting for the timeout.
func (c *controller) poll(work context.Context) bool {
	st := c.snapshot()
	if c.bridge == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(work, bridgeCallTimeout)
	defer cancel()
	conf, part, err := c.bridge.Load(ctx)
	st.LoadError = ""
	if err != nil {
		st.LoadError = err.Error()
	} else {
		st.Conferences, st.Participants = conf, part
	}
	switch {
	case !errors.Is(err, syscall.ECONNREFUSED):
		st.BridgeUnreachableSince = time.Time{}
	case st.BridgeUnreachableSince.IsZero():
		st.BridgeUnreachableSince = time.Now()
	}
	if c.snapshot().State == StateDraining {
		c.setStatus(st)
	}
	if now := time.Now(); !now.Before(c.nextProgress) {
		c.nextProgress = now.Add(c.opts.DrainProgressInterval)
		c.logger.Info("draining", "conferences", st.Conferences, "participants", st.Participants,
			"load_error", st.LoadError, "elapsed", now.Sub(st.Since).Round(time.Second),
			"remaining", st.Deadline.Sub(now).Round(time.Second))
	}
	return err == nil && conf == 0 && part == 0
}

// bridgeGone reports whether the bridge of the running drain has refused connections for
// bridgeGonePolls poll intervals.
func (c *controller) bridgeGone() bool {
	since := c.snapshot().BridgeUnreachableSince
	return !since.IsZero() && time.Since(since) >= bridgeGonePolls*c.opts.DrainPollInterval
}

// finish deregisters the node. It returns an error only if a registration this process made
// could not be removed.
func (c *controller) finish(work context.Context, why string) error {
	c.stopRegistrar()
	st := c.snapshot()
	st.State = StateDrained
	c.setStatus(st)
	registered, err := c.reg.deregister(work)
	if err != nil {
		c.logger.Error("drain finished but deregistration failed", "why", why, "err", err)
		if registered {
			return err
		}
		return nil
	}
	c.logger.Info("drain finished: deregistered from consul", "why", why, "exiting", c.exiting)
	return nil
}

// undrain puts the node back into placement.
func (c *controller) undrain(work context.Context, st DrainStatus) {
	if st.State == StateDrained {
		c.startRegistrar(work)
	} else if err := c.reg.setMaintenance(work, ""); err != nil {
		c.logger.Error("disabling maintenance failed; the resync will retry", "err", err)
	}
	switch st.BridgeMode {
	case bridgeDrain:
		ctx, cancel := context.WithTimeout(work, bridgeCallTimeout)
		defer cancel()
		if err := c.bridge.Drain(ctx, false); err != nil {
			c.logger.Error("disabling bridge drain mode failed", "err", err)
		}
	}
	c.logger.Info("drain cancelled; the node is back in placement", "was", st.State)
	c.setStatus(DrainStatus{State: StateServing})
}
