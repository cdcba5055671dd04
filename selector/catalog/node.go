// Package catalog keeps the selector's view of the fleet: which nodes Consul knows, how each may be used,
// and the public URL each one serves meetings under. It follows Consul with a blocking-query watch and
// publishes immutable snapshots, so readers never take a lock.
package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Node is one registered instance of the Jitsi service as Consul reports it.
type Node struct {
	ID string
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
}

// Meta keys the sidecar registers (docs/design/contracts.md).
const (
	MetaPublicURL   = "public_url"
	MetaRegion      = "region"
	MetaCapacity    = "capacity"
	MetaSidecarPort = "sidecar_port"
	MetaVersion     = "version"
)

// ParsePublicURL checks a `public_url` Meta value and returns it normalised to https://host[:port].
// Anything that could turn a redirect into an open redirect or a credential leak is refused: other schemes,
// relative URLs, user info, a path other than "/", a query or a fragment.
func ParsePublicURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("public_url is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public_url: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("public_url %q: scheme must be https", raw)
	case u.Opaque != "" || u.Host == "":
		return "", fmt.Errorf("public_url %q: not an absolute URL with a host", raw)
	case u.User != nil:
		return "", fmt.Errorf("public_url %q: user info is not allowed", raw)
	case u.Path != "" && u.Path != "/", u.RawPath != "":
		return "", fmt.Errorf("public_url %q: a path is not allowed", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("public_url %q: a query is not allowed", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("public_url %q: a fragment is not allowed", raw)
	}
	host := u.Hostname()
	if host == "" || strings.ContainsAny(host, `\/@ `) {
		return "", fmt.Errorf("public_url %q: bad host", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("public_url %q: bad port", raw)
		}
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// classify turns a node's checks into a State. Consul's maintenance checks (`_service_maintenance:<id>` and
// `_node_maintenance`) mean draining; any other critical check means gone. A warning (an HTTP check answered
// 429) also keeps new rooms away without moving existing ones, the same as draining.
func classify(checks api.HealthChecks) placement.State {
	state := placement.Eligible
	for _, c := range checks {
		maint := c.CheckID == api.NodeMaint || strings.HasPrefix(c.CheckID, api.ServiceMaintPrefix)
		switch c.Status {
		case api.HealthPassing:
		case api.HealthCritical:
			if !maint {
				return placement.Gone
			}
			state = placement.Draining
		default: // warning, or a status this code does not know: keep new rooms away, keep old ones
			state = placement.Draining
		}
	}
	return state
}

// fromEntry builds a Node from a health entry, or explains why the entry cannot be used.
func fromEntry(e *api.ServiceEntry) (Node, error) {
	if e == nil || e.Service == nil {
		return Node{}, errors.New("entry without a service")
	}
	s := e.Service
	if s.ID == "" {
		return Node{}, errors.New("service without an ID")
	}
	pub, err := ParsePublicURL(s.Meta[MetaPublicURL])
	if err != nil {
		return Node{}, err
	}
	n := Node{
		ID:          s.ID,
		Address:     s.Address,
		SidecarPort: s.Port,
		PublicURL:   pub,
		Region:      s.Meta[MetaRegion],
		Version:     s.Meta[MetaVersion],
		State:       classify(e.Checks),
	}
	if n.Address == "" && e.Node != nil {
		n.Address = e.Node.Address
	}
	if p, err := strconv.Atoi(s.Meta[MetaSidecarPort]); err == nil && p > 0 && p <= 65535 {
		n.SidecarPort = p
	}
	if c, err := strconv.ParseFloat(s.Meta[MetaCapacity], 64); err == nil && c > 0 && c < 1e6 {
		n.Capacity = c
	}
	return n, nil
}
