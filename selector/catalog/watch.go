package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"golang.org/x/time/rate"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Options configures a Watcher.
type Options struct {
	// Service is the Consul service name to follow.
	Service string
	// WaitTime is the blocking-query wait. Shorter waits notice a silently dead Consul sooner.
	WaitTime time.Duration
	// Rate and Burst bound how often Consul is asked, whatever it answers (Consul's blocking-query rules).
	Rate  rate.Limit
	Burst int
	// MinBackoff and MaxBackoff bound the exponential backoff after errors.
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowedDomains restricts the hosts of public URLs. Unless Unbound, it must not be empty: a
	// node's public URL is then https://<its Consul node name>.<one of these domains>.
	AllowedDomains registration.Domains
	// Unbound (labs only) drops the binding of a node's identity to its Consul node: any service ID
	// and any public URL under AllowedDomains (any host when empty) is used as registered.
	Unbound bool
	// KeepMissing is how long a node that leaves Consul's answer (deregistered, or its agent gone
	// from the catalog) stays in the snapshots as Gone, counted from when it went gone; 0 drops
	// it at once. Its rooms are then held like those of any gone node
	// (rooms.ResolverOptions.MoveAfter) rather than moved at once: keep it above the move delay
	// (the selector sets twice it).
	KeepMissing time.Duration
	// UnverifiedHold is how long, bound, a node whose instance left Consul's answer is held
	// Draining when its own node check is gone too but its Consul node is still there (another
	// token turned that check into a service check and deregistered both; the node's agent writes
	// them back within its anti-entropy interval, about a minute on fleets of up to 128 nodes).
	// A sidecar that leaves marks its node check critical instead, which ends the hold at once.
	UnverifiedHold time.Duration
}

// DefaultOptions returns the settings used by the selector.
func DefaultOptions() Options {
	return Options{
		Service:    "jitsi",
		WaitTime:   15 * time.Second,
		Rate:       rate.Every(100 * time.Millisecond),
		Burst:      5,
		MinBackoff: 250 * time.Millisecond,
		MaxBackoff: 10 * time.Second,
		// Several anti-entropy intervals of a fleet of up to 128 nodes (Consul's agent/ae).
		UnverifiedHold: 5 * time.Minute,
	}
}

// Hooks lets the caller observe the watch (metrics) without the catalog depending on them.
type Hooks struct {
	// Error is called after each failed request.
	Error func(err error)
	// Contact is called after each successful request with Consul's index.
	Contact func(index uint64)
	// Ignored is called for each entry that was left out, whenever the set of ignored entries
	// changes.
	Ignored func(id string, err error)
	// Conflicts is called after each answer with the number of conflicts: service IDs registered
	// on more than one Consul node (each such ID is left out entirely), and instances whose
	// identity is not their Consul node's (left out; the node they sit on keeps its last bound
	// entry as Draining), and bound nodes whose instance was deregistered while their Consul node
	// is alive (held Draining).
	Conflicts func(n int)
	// Changed is called after a new snapshot is published.
	Changed func(*Snapshot)
}

// Watcher follows one Consul service with blocking queries and publishes snapshots.
type Watcher struct {
	health  *api.Health
	catalog *api.Catalog
	opts    Options
	hooks   Hooks
	logger  *slog.Logger
	current atomic.Pointer[Snapshot]
	// lastContact is the Unix nanosecond time of the last successful answer from Consul (0 = never).
	lastContact atomic.Int64
	// nodeReads bounds the reads of missing nodes' own checks (holdMissing).
	nodeReads *rate.Limiter
	// ignoredKey, conflictKey, boundKey and heldKey describe the last logged sets of ignored
	// entries, duplicate IDs, binding conflicts and held missing nodes; only Run's goroutine uses
	// them.
	ignoredKey, conflictKey, boundKey, heldKey string
}

// nodeReadTimeout bounds one read of a missing node's checks, its wait for the rate limit included.
const nodeReadTimeout = 5 * time.Second

// New returns a Watcher. It does nothing until Run.
func New(client *api.Client, opts Options, hooks Hooks, logger *slog.Logger) (*Watcher, error) {
	if opts.Service == "" {
		return nil, errors.New("catalog: empty service name")
	}
	if opts.WaitTime <= 0 || opts.Rate <= 0 || opts.Burst < 1 || opts.MinBackoff <= 0 || opts.MaxBackoff < opts.MinBackoff || opts.KeepMissing < 0 || opts.UnverifiedHold < 0 {
		return nil, fmt.Errorf("catalog: invalid options %+v", opts)
	}
	if !opts.Unbound && opts.AllowedDomains.Empty() {
		return nil, errors.New("catalog: node identities are bound to https://<Consul node>.<allowed domain>, but no domain is allowed")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Watcher{health: client.Health(), catalog: client.Catalog(), opts: opts, hooks: hooks, logger: logger,
		nodeReads: rate.NewLimiter(rate.Every(50*time.Millisecond), 20)}, nil
}

// Snapshot returns the latest published view, or nil before the first answer from Consul.
func (w *Watcher) Snapshot() *Snapshot { return w.current.Load() }

// LastContact returns when Consul last answered (zero before the first answer).
func (w *Watcher) LastContact() time.Time {
	ns := w.lastContact.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Run follows the service until ctx ends. It returns ctx's error; Consul errors are retried with backoff.
func (w *Watcher) Run(ctx context.Context) error {
	limiter := rate.NewLimiter(w.opts.Rate, w.opts.Burst)
	var index uint64
	failures := 0
	for {
		if err := limiter.Wait(ctx); err != nil {
			return ctx.Err()
		}
		entries, meta, err := w.fetch(ctx, index)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if w.hooks.Error != nil {
				w.hooks.Error(err)
			}
			wait := backoff(w.opts.MinBackoff, w.opts.MaxBackoff, failures)
			w.logger.Warn("consul watch failed", "service", w.opts.Service, "err", err, "failures", failures, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if failures > 0 {
			w.logger.Info("consul watch recovered", "service", w.opts.Service, "after_failures", failures)
			failures = 0
		}
		w.lastContact.Store(w.opts.Now().UnixNano())
		index = nextIndex(index, meta.LastIndex)
		if w.hooks.Contact != nil {
			w.hooks.Contact(meta.LastIndex)
		}
		w.publish(ctx, entries, meta.LastIndex)
	}
}

// fetch runs one blocking query. Its context, not an http.Client timeout, bounds it: the deadline covers
// the wait, Consul's jitter of up to wait/16 and some slack, so a hung connection cannot stall the watch.
func (w *Watcher) fetch(ctx context.Context, index uint64) ([]*api.ServiceEntry, *api.QueryMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.WaitTime+w.opts.WaitTime/16+5*time.Second)
	defer cancel()
	q := (&api.QueryOptions{WaitIndex: index, WaitTime: w.opts.WaitTime, AllowStale: true}).WithContext(ctx)
	entries, meta, err := w.health.Service(w.opts.Service, "", false, q)
	if err != nil {
		return nil, nil, fmt.Errorf("consul health query for %q: %w", w.opts.Service, err)
	}
	return entries, meta, nil
}

// nextIndex applies Consul's blocking-query rules: an index that goes backwards means the store was reset,
// so start again from 0 (one non-blocking read); an index of 0 is invalid and must not be blocked on.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}

// publish swaps in a new snapshot when the fleet changed. Consul returns on unrelated writes and on
// timeouts too, so the payload is compared rather than trusting the index.
func (w *Watcher) publish(ctx context.Context, entries []*api.ServiceEntry, index uint64) {
	nodes := make([]Node, 0, len(entries))
	var (
		skipped []ignored
		claims  []*conflictError
	)
	for _, e := range entries {
		n, err := fromEntry(e, w.opts)
		var ce *conflictError
		switch {
		case errors.As(err, &ce):
			claims = append(claims, ce)
		case err != nil:
			id := ""
			if e != nil && e.Service != nil {
				id = e.Service.ID
			}
			skipped = append(skipped, ignored{id, err})
		default:
			if n.State == placement.Gone {
				n.GoneIndex = spellIndex(n.ID, e.Checks, w.opts.Unbound)
			}
			nodes = append(nodes, n)
		}
	}
	old := w.current.Load()
	nodes = hold(old, nodes, claims)
	nodes, conflicts := dropConflicts(nodes)
	now := w.opts.Now()
	inConflict := conflicted(conflicts)
	held := w.holdMissing(ctx, old, nodes, inConflict, now)
	if len(held) > 0 {
		nodes = append(nodes, held...)
		slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	}
	w.report(skipped, conflicts, claims, held)
	since(old, nodes, now)
	nodes = keepMissing(old, nodes, inConflict, index, now, w.opts.KeepMissing)
	if old != nil && slices.Equal(old.Nodes, nodes) {
		return
	}
	snap := &Snapshot{Nodes: nodes, Index: index}
	w.current.Store(snap)
	if w.hooks.Changed != nil {
		w.hooks.Changed(snap)
	}
}

// hold keeps a node whose own entry was overwritten by one claiming another identity (a token
// that may write the jitsi service can do that to any existing node): the node's last bound
// entry stays, Draining unless it was Gone, so its rooms keep their redirect and no new room
// goes there until its agent writes the real entry back.
func hold(old *Snapshot, nodes []Node, claims []*conflictError) []Node {
	for _, c := range claims {
		if slices.ContainsFunc(nodes, func(n Node) bool { return n.ID == c.consulNode }) {
			continue
		}
		if o, ok := old.Node(c.consulNode); ok && o.ConsulNode == c.consulNode {
			if o.State == placement.Eligible {
				o.State = placement.Draining
			}
			nodes = append(nodes, o)
		}
	}
	return nodes
}

// holdMissing returns, bound, the nodes of the previous snapshot that are not gone and left
// Consul's answer while their Consul node is alive, as Draining and Missing, so their rooms keep
// their redirect and no new room goes to them. Any token that may write the jitsi service can
// deregister any node's instance; only the node's own tokens can write its node check
// (registration.NodeCheckID), and a sidecar that leaves marks that check critical before it
// deregisters. So a node is held while its own check is there and not critical, and for
// Options.UnverifiedHold when the check is gone too but the Consul node is still there (someone
// turned the check into a service check and deregistered both; the node's agent writes them
// back). One bounded, rate-limited read per missing node and answer; a failed read holds nothing
// (the node goes missing as before).
func (w *Watcher) holdMissing(ctx context.Context, old *Snapshot, nodes []Node, conflicts map[string]bool, now time.Time) []Node {
	if w.opts.Unbound || old == nil {
		return nil
	}
	listed := &Snapshot{Nodes: nodes}
	var held []Node
	for _, o := range old.Nodes {
		if _, ok := listed.Node(o.ID); ok || conflicts[o.ID] || o.State == placement.Gone {
			continue
		}
		if !o.Missing {
			o.HeldSince = now
		}
		switch w.nodeLife(ctx, o) {
		case nodeDead:
			continue
		case nodeUnverified:
			if now.Sub(o.HeldSince) >= w.opts.UnverifiedHold {
				continue
			}
		}
		o.State, o.Missing = placement.Draining, true
		held = append(held, o)
	}
	return held
}

// nodeLife is what a missing node's Consul node says about it.
type nodeLife int

const (
	nodeDead       nodeLife = iota // gone from the catalog, a check of its own critical, or unreadable
	nodeUnverified                 // in the catalog, but its own node check is gone
	nodeAlive                      // its own node check is there and nothing of its own is critical
)

// nodeLife reads n's Consul node's checks (and, without its own check, whether the Consul node
// is still registered: only its agent's token may deregister it).
func (w *Watcher) nodeLife(ctx context.Context, n Node) nodeLife {
	ctx, cancel := context.WithTimeout(ctx, nodeReadTimeout)
	defer cancel()
	if err := w.nodeReads.Wait(ctx); err != nil {
		w.logger.Warn("no time left to read a missing node's checks; it goes missing", "consul_node", n.ConsulNode, "err", err)
		return nodeDead
	}
	q := (&api.QueryOptions{AllowStale: true}).WithContext(ctx)
	checks, _, err := w.health.Node(n.ConsulNode, q)
	if err != nil {
		w.logger.Warn("reading a missing node's checks failed; it goes missing", "consul_node", n.ConsulNode, "err", err)
		return nodeDead
	}
	switch {
	case classify(n.ID, checks, false) == placement.Gone:
		return nodeDead
	case hasNodeCheck(n.ID, checks):
		return nodeAlive
	}
	node, _, err := w.catalog.Node(n.ConsulNode, q)
	if err != nil {
		w.logger.Warn("reading a missing node failed; it goes missing", "consul_node", n.ConsulNode, "err", err)
		return nodeDead
	}
	if node == nil || node.Node == nil {
		return nodeDead
	}
	return nodeUnverified
}

// since carries each node's LiveSince over from the previous snapshot while it stays out of
// Gone, and sets it to now when the node appears or comes back; GoneSince likewise while it stays
// Gone in one spell (GoneIndex), set to now when it goes or a new spell begins.
func since(old *Snapshot, nodes []Node, now time.Time) {
	for i := range nodes {
		n := &nodes[i]
		o, ok := old.Node(n.ID)
		switch {
		case n.State == placement.Gone && ok && o.State == placement.Gone && (n.GoneIndex == o.GoneIndex || o.GoneIndex == 0):
			// The same spell; a new one (the node came back and went again between two answers)
			// starts the hold again.
			n.GoneSince = o.GoneSince
		case n.State == placement.Gone:
			n.GoneSince = now
		case ok && o.State != placement.Gone:
			n.LiveSince = o.LiveSince
		default:
			n.LiveSince = now
		}
	}
}

// conflicted returns the IDs of the conflicts.
func conflicted(cs []conflict) map[string]bool {
	out := make(map[string]bool, len(cs))
	for _, c := range cs {
		out[c.id] = true
	}
	return out
}

// keepMissing adds to nodes (sorted by ID) every node of the previous snapshot that is no longer
// in Consul's answer, as Gone, until it has been gone for keep (counted from GoneSince); not the
// IDs in conflict, which are left out because no copy of them can be trusted (dropConflicts): a node that vanishes is held
// like one whose check fails, so its rooms do not move before the hold (a deregistration and
// re-registration, or a node agent that left and rejoins, would otherwise split them). The node
// keeps its public URL for the rooms held on it; its spell is the index of the first answer
// without it, unless it was already gone.
func keepMissing(old *Snapshot, nodes []Node, conflicts map[string]bool, index uint64, now time.Time, keep time.Duration) []Node {
	if old == nil || keep <= 0 {
		return nodes
	}
	listed := &Snapshot{Nodes: nodes} // sorted; the missing ones are appended after it
	var added bool
	for _, o := range old.Nodes {
		if _, ok := listed.Node(o.ID); ok || conflicts[o.ID] {
			continue
		}
		switch {
		case o.Missing && o.State == placement.Gone && now.Sub(o.GoneSince) >= keep:
			continue
		case o.State != placement.Gone: // listed until now, or held while its Consul node was alive
			o.GoneSince, o.GoneIndex, o.LiveSince, o.HeldSince = now, index, time.Time{}, time.Time{}
		case !o.Missing && o.GoneIndex == 0:
			o.GoneIndex = index
		}
		o.State, o.Missing = placement.Gone, true
		nodes = append(nodes, o)
		added = true
	}
	if added {
		slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	}
	return nodes
}

type ignored struct {
	id  string
	err error
}

// conflict is one service ID registered on several Consul nodes.
type conflict struct {
	id    string
	nodes []Node
}

// dropConflicts sorts nodes by ID and removes every ID that more than one Consul node
// registers. Service IDs are unique only per agent: a second registration of an ID from
// another Consul node is either a mistake or a node impersonating another one, and the
// selector cannot tell which copy is real, so it uses neither.
func dropConflicts(nodes []Node) ([]Node, []conflict) {
	slices.SortFunc(nodes, func(a, b Node) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.ConsulNode, b.ConsulNode))
	})
	var conflicts []conflict
	out := nodes[:0]
	for i := 0; i < len(nodes); {
		j := i + 1
		for j < len(nodes) && nodes[j].ID == nodes[i].ID {
			j++
		}
		if j-i == 1 {
			out = append(out, nodes[i])
		} else {
			conflicts = append(conflicts, conflict{id: nodes[i].ID, nodes: slices.Clone(nodes[i:j])})
		}
		i = j
	}
	return out, conflicts
}

// report logs ignored entries, conflicts and held missing nodes when their sets change, and
// feeds the hooks.
func (w *Watcher) report(skipped []ignored, conflicts []conflict, claims []*conflictError, held []Node) {
	if w.hooks.Conflicts != nil {
		w.hooks.Conflicts(len(conflicts) + len(claims) + len(held))
	}
	var heldKey strings.Builder
	for _, n := range held {
		fmt.Fprintf(&heldKey, "%q;", n.ID)
	}
	if key := heldKey.String(); key != w.heldKey {
		w.heldKey = key
		for _, n := range held {
			w.logger.Error("service instance deregistered while its Consul node is alive; held draining",
				"service", w.opts.Service, "consul_node", n.ConsulNode, "id", n.ID, "public_url", n.PublicURL, "held_since", n.HeldSince)
		}
	}
	var claimKey strings.Builder
	for _, c := range claims {
		fmt.Fprintf(&claimKey, "%q;", c)
	}
	if key := claimKey.String(); key != w.boundKey {
		w.boundKey = key
		for _, c := range claims {
			w.logger.Error("service instance claims an identity its Consul node does not own; not used",
				"service", w.opts.Service, "consul_node", c.consulNode, "id", c.id, "public_url", c.url, "reason", c.reason)
		}
	}
	var b strings.Builder
	for _, c := range conflicts {
		for _, n := range c.nodes {
			fmt.Fprintf(&b, "%q@%q=%q;", c.id, n.ConsulNode, n.PublicURL)
		}
	}
	if key := b.String(); key != w.conflictKey {
		w.conflictKey = key
		for _, c := range conflicts {
			where := make([]string, len(c.nodes))
			for i, n := range c.nodes {
				where[i] = fmt.Sprintf("consul node %q (public_url %s, address %s)", n.ConsulNode, n.PublicURL, n.Address)
			}
			w.logger.Error("service ID registered on several Consul nodes; none of its copies is used",
				"service", w.opts.Service, "id", c.id, "registrations", strings.Join(where, " and "))
		}
	}
	b.Reset()
	for _, s := range skipped {
		fmt.Fprintf(&b, "%q:%q;", s.id, s.err)
	}
	if key := b.String(); key != w.ignoredKey {
		w.ignoredKey = key
		for _, s := range skipped {
			w.logger.Warn("consul service instance ignored", "service", w.opts.Service, "id", s.id, "err", s.err)
			if w.hooks.Ignored != nil {
				w.hooks.Ignored(s.id, s.err)
			}
		}
	}
}

// backoff returns an exponential delay from lo, capped at hi, with jitter over its upper half.
func backoff(lo, hi time.Duration, failures int) time.Duration {
	d := lo
	for i := 1; i < failures && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}
