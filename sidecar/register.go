package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// consulCallTimeout bounds every non-blocking Consul call, so a hung agent cannot stall a drain.
const consulCallTimeout = 5 * time.Second

// registrar owns the node's registration in the local Consul agent.
//
// When the service ID is the agent's node name (the binding the selector requires unless
// --nodes.insecure-unbound), it also registers nodeCheck, a node-level check of /health: Consul
// asks for node:write on the node to write one, which only this node's tokens hold, so it is the
// health the selector trusts (any jitsi writer may write the service check on any node). Sidecars
// sharing one agent under other IDs (labs) have no node to speak for and register none.
type registrar struct {
	agent     *api.Agent
	reg       *api.AgentServiceRegistration
	nodeCheck *api.AgentCheckRegistration
	logger    *slog.Logger
	retryMin  time.Duration
	resync    time.Duration
	metrics   *metrics

	// mu serialises writes to the agent, so a resync cannot undo a maintenance change
	// made at the same time.
	mu          sync.Mutex
	maintenance string // reason while draining, "" otherwise
	registered  bool   // registered at least once by this process
	bound       bool   // the agent's node name is the service ID: nodeCheck is registered
}

// consulError wraps err with op and, when the agent refused for lack of an ACL permission,
// says which permission is missing. The token itself is never part of the message.
func (r *registrar) consulError(op string, err error) error {
	r.metrics.consulErrors.WithLabelValues(op).Inc()
	var se api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusForbidden && op == "node_check" {
		return fmt.Errorf("consul write of node check %q refused: the ACL token lacks permission node:write on this node "+
			"(give the sidecar token the node identity of its node, deploy/consul/README.md): %w", r.nodeCheck.ID, err)
	}
	if errors.As(err, &se) && se.Code == http.StatusForbidden {
		return fmt.Errorf("consul %s of service %q refused: the ACL token lacks permission service:write on %q "+
			"(give the sidecar a token with service:write through CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE): %w",
			op, r.reg.ID, r.reg.Name, err)
	}
	return fmt.Errorf("consul %s of service %q: %w", op, r.reg.ID, err)
}

// register writes the registration and, while draining, maintenance mode.
func (r *registrar) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, consulCallTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	// ReplaceExistingChecks would also drop Consul's maintenance check, so a draining node
	// would be passing until maintenance is written again; keep the checks while draining.
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: r.maintenance == ""}.WithContext(ctx)
	if err := r.agent.ServiceRegisterOpts(r.reg, opts); err != nil {
		r.metrics.registered.Set(0)
		return r.consulError("registration", err)
	}
	r.registered = true
	if r.maintenance != "" {
		if err := r.agent.EnableServiceMaintenanceOpts(r.reg.ID, r.maintenance, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
			return r.consulError("maintenance", err)
		}
	}
	// The agent names its node in the service check it just wrote.
	checks, err := r.agent.ChecksWithFilterOpts(fmt.Sprintf("CheckID == %q", r.reg.Check.CheckID), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return r.consulError("registration", err)
	}
	c := checks[r.reg.Check.CheckID]
	r.bound = c != nil && c.Node == r.reg.ID
	if r.bound {
		r.registerNodeCheck(ctx)
	}
	r.metrics.registered.Set(1)
	r.metrics.registrations.Inc()
	return nil
}

// setMaintenance turns Consul maintenance mode on (reason != "") or off. The wish is kept
// even when the call fails, so the next resync applies it.
func (r *registrar) setMaintenance(ctx context.Context, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, consulCallTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maintenance = reason
	q := (&api.QueryOptions{}).WithContext(ctx)
	var err error
	if reason != "" {
		err = r.agent.EnableServiceMaintenanceOpts(r.reg.ID, reason, q)
	} else {
		err = r.agent.DisableServiceMaintenanceOpts(r.reg.ID, q)
	}
	if err != nil {
		return r.consulError("maintenance", err)
	}
	return nil
}

// registerNodeCheck writes the node check; r.mu must be held. A refusal (a token without the
// node's identity) is logged, not returned: the service stays registered, unbound selectors use
// it, bound ones keep the node out of new rooms, and the next resync tries again.
func (r *registrar) registerNodeCheck(ctx context.Context) {
	if err := r.agent.CheckRegisterOpts(r.nodeCheck, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		r.logger.Error("node check not registered: a selector keeps this node out of new rooms until it is; retrying at the next resync",
			"err", r.consulError("node_check", err))
	}
}

// deregister removes the service. It reports whether this process had registered it, since
// a failure matters only then.
//
// A bound sidecar first replaces its node check with a critical one saying it left, rather than
// removing it: the selector holds a node whose instance vanished while its Consul node is alive
// (anyone who may write the jitsi service may deregister it, and may turn a node check into a
// service check and deregister both), and only a critical check of the node's own tells it the
// node really left. The next registration replaces it.
func (r *registrar) deregister(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, consulCallTimeout)
	defer cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.registered.Set(0)
	// The maintenance check goes with the service; a later registration starts without it.
	r.maintenance = ""
	q := (&api.QueryOptions{}).WithContext(ctx)
	var errs []error
	if r.bound {
		left := *r.nodeCheck
		left.Notes = "ensemble-sidecar stopped and deregistered " + r.reg.ID
		left.AgentServiceCheck = api.AgentServiceCheck{TTL: leftTTL, Status: api.HealthCritical}
		if err := r.agent.CheckRegisterOpts(&left, q); err != nil {
			errs = append(errs, r.consulError("node_check", err))
		}
	}
	if err := r.agent.ServiceDeregisterOpts(r.reg.ID, q); err != nil {
		errs = append(errs, r.consulError("deregistration", err))
	}
	return r.registered, errors.Join(errs...)
}

// leftTTL is the TTL of the critical check a bound sidecar leaves behind; nothing updates it, so
// it stays critical whatever the TTL, which only has to be valid.
const leftTTL = "8760h"

// run keeps the registration in place until ctx ends: it registers, then watches the
// service on the agent with a blocking query, so an agent that lost it (restarted empty) is
// noticed at once, and every resync interval compares the agent's copy with the registration
// and registers again if they differ. While Consul cannot be reached
// it retries with capped exponential backoff and jitter.
func (r *registrar) run(ctx context.Context) {
	retry := backoff{min: r.retryMin, max: r.resync}
	// A blocking query may return early many times in a row; keep a floor between calls.
	limit := rate.NewLimiter(rate.Every(100*time.Millisecond), 2)
	var (
		hash       string
		present    bool
		nextResync time.Time
		lastErr    string
	)
	fail := func(err error) {
		// Repeating the same error on every retry would flood the log during an outage.
		if msg := err.Error(); msg != lastErr {
			r.logger.Error("consul unreachable or refusing; retrying with backoff", "err", err)
			lastErr = msg
		}
		present = false
		sleep(ctx, retry.next())
	}
	var last *api.AgentService // the agent's copy, from the watch
	for ctx.Err() == nil {
		if present && !time.Now().Before(nextResync) {
			// Every write restarts Consul's check timer with a random stagger of up to one
			// interval, which would delay noticing a crash; write only what differs.
			ok, err := r.inPlace(ctx, last)
			if err != nil && ctx.Err() == nil {
				fail(err)
				continue
			}
			if present = ok; !ok {
				r.logger.Info("the agent's copy of the registration differs; writing it again")
			}
			nextResync = time.Now().Add(r.resync)
		}
		if !present {
			if err := r.register(ctx); err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				continue
			}
			r.logger.Info("registered in consul", "service", r.reg.Name, "id", r.reg.ID)
			retry.reset()
			lastErr, present, hash, last = "", true, "", nil
			nextResync = time.Now().Add(r.resync)
		}
		if limit.Wait(ctx) != nil {
			return
		}
		wait := time.Until(nextResync)
		if wait <= 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, wait+consulCallTimeout)
		svc, qm, err := r.agent.Service(r.reg.ID, (&api.QueryOptions{WaitHash: hash, WaitTime: wait}).WithContext(wctx))
		cancel()
		var se api.StatusError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &se) && se.Code == http.StatusNotFound:
			r.logger.Warn("consul agent lost the service; registering again", "id", r.reg.ID)
			r.metrics.registered.Set(0)
			present = false
		case err != nil:
			r.metrics.registered.Set(0)
			fail(r.consulError("watch", err))
		default:
			hash, last = qm.LastContentHash, svc
		}
	}
}

// inPlace reports whether the agent holds the registration as this process would write it:
// the service, its HTTP check and, while draining, the maintenance check. A bound sidecar's node
// check is written again here when it differs.
func (r *registrar) inPlace(ctx context.Context, svc *api.AgentService) (bool, error) {
	if svc == nil || svc.Service != r.reg.Name || svc.Port != r.reg.Port || svc.Address != r.reg.Address ||
		!slices.Equal(svc.Tags, r.reg.Tags) || !maps.Equal(svc.Meta, r.reg.Meta) {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, consulCallTimeout)
	defer cancel()
	filter := fmt.Sprintf("ServiceID == %q or CheckID == %q", r.reg.ID, r.nodeCheck.ID)
	checks, err := r.agent.ChecksWithFilterOpts(filter, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, r.consulError("watch", err)
	}
	c, ok := checks[r.reg.Check.CheckID]
	if !ok || c.Type != "http" || c.Name != r.reg.Check.Name {
		return false, nil
	}
	r.mu.Lock()
	draining := r.maintenance != ""
	if n, ok := checks[r.nodeCheck.ID]; r.bound && (!ok || n.Type != "http" || n.Name != r.nodeCheck.Name || n.ServiceID != "") {
		// Only the node check differs: write it alone, not the service (which would restart the
		// service check's timer).
		r.logger.Info("the agent's copy of the node check differs; writing it again")
		r.registerNodeCheck(ctx)
	}
	r.mu.Unlock()
	_, maintained := checks["_service_maintenance:"+r.reg.ID]
	return maintained == draining, nil
}

// backoff yields exponentially growing waits from min up to max, each with jitter in [d/2, d]
// so that a fleet of sidecars does not hit a recovering agent in step.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.n, 30)
	if d > b.max || d <= 0 {
		d = b.max
	} else {
		b.n++
	}
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// newNodeCheck builds the node-level check a bound sidecar registers (registrar): the same call
// of /health as the service check, which answers 429 (a warning: draining) while the node drains.
// Consul removes a critical node check never by itself, so it has no
// DeregisterCriticalServiceAfter.
func newNodeCheck(svc *api.AgentServiceRegistration) *api.AgentCheckRegistration {
	c := *svc.Check
	c.CheckID, c.DeregisterCriticalServiceAfter = "", ""
	return &api.AgentCheckRegistration{
		ID:                registration.NodeCheckID(svc.ID),
		Name:              "ensemble-sidecar /health (node)",
		Notes:             "The health of " + svc.ID + "'s sidecar as only this node may write it; the selector trusts this check.",
		AgentServiceCheck: c,
	}
}

// newRegistration builds what the sidecar writes into Consul.
func newRegistration(o *Options, port int, checkURL string, header map[string][]string) *api.AgentServiceRegistration {
	return &api.AgentServiceRegistration{
		ID:      o.ConsulServiceID,
		Name:    o.ConsulService,
		Tags:    o.NodeTag,
		Port:    port,
		Address: o.NodeAddress,
		Meta: map[string]string{
			registration.MetaPublicURL:   o.NodePublicURL,
			registration.MetaRegion:      o.NodeRegion,
			registration.MetaCapacity:    fmt.Sprint(o.NodeCapacity),
			registration.MetaSidecarPort: fmt.Sprint(port),
			registration.MetaVersion:     o.Version,
		},
		Check: &api.AgentServiceCheck{
			CheckID:                        "service:" + o.ConsulServiceID,
			Name:                           "ensemble-sidecar /health",
			HTTP:                           checkURL,
			Method:                         http.MethodGet,
			Header:                         header,
			TLSSkipVerify:                  o.ConsulCheckTLSSkipVerify,
			Interval:                       o.ConsulCheckInterval.String(),
			Timeout:                        o.ConsulCheckTimeout.String(),
			SuccessBeforePassing:           o.ConsulCheckSuccessBeforePassing,
			FailuresBeforeCritical:         o.ConsulCheckFailuresBeforeCritical,
			DeregisterCriticalServiceAfter: o.ConsulDeregisterAfter.String(),
		},
	}
}
