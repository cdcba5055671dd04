package imagecheck

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// PassingURLs returns the public_url of every instance of service that Consul lists as
// passing, sorted. This is the one place the image test decides what "passing" means: Consul's
// ?passing filter, which requires every check of the instance to pass, the service's own and
// the node's. A sidecar that moves its health check from the service to the node therefore
// changes nothing here.
func PassingURLs(ctx context.Context, health *api.Health, service string) ([]string, error) {
	entries, _, err := health.Service(service, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("passing instances of %s: %w", service, err)
	}
	urls := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Service == nil {
			continue
		}
		urls = append(urls, e.Service.Meta[registration.MetaPublicURL])
	}
	sort.Strings(urls)
	return urls, nil
}

// WantPassing checks that the passing instances of service are exactly the public URLs want.
func WantPassing(health *api.Health, service string, want []string) func(context.Context) error {
	want = slices.Sorted(slices.Values(want))
	return func(ctx context.Context) error {
		got, err := PassingURLs(ctx, health, service)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("passing %s instances: %q, want %q", service, got, want)
		}
		return nil
	}
}

// WantNotPassing checks that no passing instance of service has the public URL url.
func WantNotPassing(health *api.Health, service, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		got, err := PassingURLs(ctx, health, service)
		if err != nil {
			return err
		}
		if slices.Contains(got, url) {
			return fmt.Errorf("%s is still passing (passing %s instances: %q)", url, service, got)
		}
		return nil
	}
}

// CreateIndex returns the catalog's CreateIndex of the one instance of service whose
// public_url is url: a registration made anew gets a new one.
func CreateIndex(ctx context.Context, catalog *api.Catalog, service, url string) (uint64, error) {
	entries, _, err := catalog.Service(service, "", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("catalog of %s: %w", service, err)
	}
	var found []uint64
	for _, e := range entries {
		if e.ServiceMeta[registration.MetaPublicURL] == url {
			found = append(found, e.CreateIndex)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%d instances of %s with public_url %s in the catalog (CreateIndex %v), want 1", len(found), service, url, found)
	}
	return found[0], nil
}

// NodeAbsent checks that the catalog lists no node named node.
func NodeAbsent(catalog *api.Catalog, node string) func(context.Context) error {
	return func(ctx context.Context) error {
		nodes, _, err := catalog.Nodes((&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("catalog nodes: %w", err)
		}
		for _, n := range nodes {
			if n.Node == node {
				return fmt.Errorf("node %s is in the catalog (address %s)", node, n.Address)
			}
		}
		return nil
	}
}
