// Package catalog keeps the selector's view of the fleet: which nodes Consul knows, how each may be used,
// and the public URL each one serves meetings under. It follows Consul with a blocking-query watch and
// publishes immutable snapshots, so readers never take a lock.
package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Node is one registered instance of the Jitsi service as Consul reports it.
type Node struct {
	// ID is the Consul service ID, unique in a published snapshot (duplicates are conflicts).
	ID string
	// ConsulNode is the Consul node the instance is registered on.
	ConsulNode string
	// Address is where the sidecar listens (the service address, else the Consul node address).
	Address string
	// SidecarPort is the `sidecar_port` Meta, else the service port (the contract registers the sidecar's).
	SidecarPort int
	// PublicURL is the validated `public_url` Meta in the form https://host[:port], without a trailing
	// slash; redirects are built only from it.
	PublicURL string
	Region    string
	// Capacity is the `capacity` Meta (logical CPUs); 0 when absent or invalid.
	Capacity float64
	Version  string
	// State follows the checks: placement.Eligible, Draining (maintenance or a warning) or Gone.
	State placement.State
	// LiveSince is when this watcher last saw the node come back: first listed, or out of Gone
	// (zero while Gone). A copy of a room binding older than it may be stale: the node was gone
	// in between, and another replica may have moved the room.
	LiveSince time.Time
	// GoneSince is when this watcher saw the node go Gone (zero unless Gone).
	GoneSince time.Time
	// GoneIndex names the spell of being gone, the same for every watcher: the lowest
	// ModifyIndex of its critical checks (the Consul write that made the first of them critical),
	// or, for a node missing from the catalog, the index of the first answer without it. Zero
	// unless Gone.
	GoneIndex uint64
	// Missing is set when the node is no longer in Consul's answer: it is kept as Gone for
	// Options.KeepMissing, so its rooms are held like those of any gone node; or, bound, held
	// Draining while its Consul node is alive (someone else deregistered its instance: Consul
	// lets any jitsi service writer do that).
	Missing bool
	// HeldSince is when this watcher began holding the node, missing, as Draining (zero otherwise).
	HeldSince time.Time
}

// spellIndex is the lowest ModifyIndex among the critical checks that make a node Gone
// (maintenance checks only drain it; checks classify does not trust do nothing).
func spellIndex(id string, checks api.HealthChecks, unbound bool) uint64 {
	var idx uint64
	for _, c := range checks {
		if t := trust(id, c, unbound); t == trusted && c.Status == api.HealthCritical && (idx == 0 || c.ModifyIndex < idx) {
			idx = c.ModifyIndex
		}
	}
	return idx
}

// checkTrust is how much a check tells classify.
type checkTrust int

const (
	untrusted   checkTrust = iota // written by someone other than the node, or about another instance
	maintenance                   // Consul's maintenance mode: critical means draining
	trusted                       // the node's own word: critical means gone
)

// trust says whether a check is the node's own.
//
// Bound (the default), only node-level checks count: Consul asks for node:write on the node to
// write one, which only the node's own tokens have (its agent's, its sidecar's node identity).
// Any token that may write the jitsi service may write a service check on any node's instance,
// `service:<id>` and `_service_maintenance:<id>` included, so none of them counts: the sidecar's
// health is its node-level check registration.NodeCheckID(id), drains show as that check's
// warning, and Consul's node maintenance drains too.
//
// Unbound (labs: many sidecars on one agent), the node's checks are the two service checks the
// sidecar and Consul's maintenance mode write for this instance and the agent's node-level checks,
// except the node checks of other instances sharing the agent.
func trust(id string, c *api.HealthCheck, unbound bool) checkTrust {
	switch {
	case c.CheckID == api.NodeMaint && c.ServiceID == "":
		return maintenance
	case c.ServiceID == "" && strings.HasPrefix(c.CheckID, registration.NodeCheckPrefix):
		if unbound && !checkOf(c.CheckID, registration.NodeCheckPrefix, id) {
			return untrusted // another instance's sidecar on the shared agent
		}
		return trusted
	case c.ServiceID == "":
		return trusted
	case !unbound:
		return untrusted
	case checkOf(c.CheckID, api.ServiceMaintPrefix, id):
		return maintenance
	case checkOf(c.CheckID, "service:", id):
		return trusted
	}
	return untrusted
}

// checkOf reports whether checkID is prefix+id (without building that string: this runs for
// every check of every node on every catalog change).
func checkOf(checkID, prefix, id string) bool {
	return len(checkID) == len(prefix)+len(id) && strings.HasPrefix(checkID, prefix) && strings.HasSuffix(checkID, id)
}

// classify turns a node's checks into a State: a trusted critical check means gone, Consul's
// maintenance checks mean draining, and so does a warning (the sidecar answers 429 while it
// drains): new rooms keep away, existing ones keep their redirect. Checks trust refuses are
// ignored. Bound, a node whose own node check (registration.NodeCheckID) is absent is draining,
// not eligible: nothing the node wrote says it is alive (a sidecar that predates the check, or a
// check another token turned into a service check and deleted).
func classify(id string, checks api.HealthChecks, unbound bool) placement.State {
	state := placement.Eligible
	if !unbound && !hasNodeCheck(id, checks) {
		state = placement.Draining
	}
	for _, c := range checks {
		t := trust(id, c, unbound)
		if t == untrusted {
			continue
		}
		switch c.Status {
		case api.HealthPassing:
		case api.HealthCritical:
			if t == trusted {
				return placement.Gone
			}
			state = placement.Draining
		default: // warning, or a status this code does not know: keep new rooms away, keep old ones
			state = placement.Draining
		}
	}
	return state
}

// hasNodeCheck reports whether the node's own node-level check is among checks.
func hasNodeCheck(id string, checks api.HealthChecks) bool {
	return slices.ContainsFunc(checks, func(c *api.HealthCheck) bool {
		return c.ServiceID == "" && checkOf(c.CheckID, registration.NodeCheckPrefix, id)
	})
}

// conflictError is an entry whose identity is not its Consul node's: a service ID other than the node's
// name, or a public URL that is not https://<node>.<allowed domain>. Whoever may write the jitsi
// service can write such an entry on any node; only the node's own agent may write its node name.
type conflictError struct {
	consulNode, id, url, reason string
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("service %q on Consul node %q (public_url %q): %s", e.id, e.consulNode, e.url, e.reason)
}

// fromEntry builds a Node from a health entry, or explains why the entry cannot be used (a
// *conflictError when it claims an identity its Consul node does not own). Unless opts.Unbound, the
// service ID must be the Consul node's name and the public URL https://<node>.<allowed domain>.
func fromEntry(e *api.ServiceEntry, opts Options) (Node, error) {
	if e == nil || e.Service == nil {
		return Node{}, errors.New("entry without a service")
	}
	s := e.Service
	if err := registration.ValidServiceID(s.ID); err != nil {
		return Node{}, err
	}
	pub, err := registration.ParsePublicURL(s.Meta[registration.MetaPublicURL])
	if err != nil {
		return Node{}, err
	}
	if h := registration.Host(pub); !opts.AllowedDomains.Empty() && !opts.AllowedDomains.Allows(h) {
		return Node{}, fmt.Errorf("public_url host %q is not under --nodes.allowed-domains", h)
	}
	n := Node{
		ID:          s.ID,
		Address:     s.Address,
		SidecarPort: s.Port,
		PublicURL:   pub,
		Region:      s.Meta[registration.MetaRegion],
		Version:     s.Meta[registration.MetaVersion],
		State:       classify(s.ID, e.Checks, opts.Unbound),
	}
	if e.Node != nil {
		n.ConsulNode = e.Node.Node
		if n.Address == "" {
			n.Address = e.Node.Address
		}
	}
	if !opts.Unbound {
		switch {
		case n.ConsulNode != s.ID:
			return Node{}, &conflictError{n.ConsulNode, s.ID, pub, "the service ID is not the Consul node's name"}
		case !opts.AllowedDomains.BoundURL(s.ID, pub):
			return Node{}, &conflictError{n.ConsulNode, s.ID, pub, "public_url is not https://<Consul node>.<allowed domain>"}
		}
	}
	if p, err := strconv.Atoi(s.Meta[registration.MetaSidecarPort]); err == nil && p > 0 && p <= 65535 {
		n.SidecarPort = p
	}
	if c, err := strconv.ParseFloat(s.Meta[registration.MetaCapacity], 64); err == nil && c > 0 && c < 1e6 {
		n.Capacity = c
	}
	return n, nil
}
