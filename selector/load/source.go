// Package load reads how busy each node is. A Source is picked by name (`--load.source`); each returns,
// per node ID, the latest sample it has and when that sample was measured, so the caller can treat old
// data as unknown.
package load

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/catalog"
)

// Sample is what one node reported. Unknown values are NaN.
type Sample struct {
	// CPU is the busy ratio of all CPUs, 0..1.
	CPU float64
	// Stress is the videobridge's own stress level (about 0..1, may exceed 1).
	Stress float64
	// Endpoints is the number of conference endpoints on the videobridge.
	Endpoints float64
	// At is when the data was measured (the scrape time), not when it was read.
	At time.Time
}

// Unknown returns a sample with every value unknown.
func Unknown() Sample { return Sample{CPU: math.NaN(), Stress: math.NaN(), Endpoints: math.NaN()} }

// Source reads the load of the given nodes.
type Source interface {
	// Name is the name the source is registered under.
	Name() string
	// Fetch returns samples by node ID. Nodes it has nothing for are left out. An error means the source
	// as a whole could not be read (the selector then places by pending accounts only).
	Fetch(ctx context.Context, nodes []catalog.Node) (map[string]Sample, error)
}

// Config holds what any source may need; each uses the fields that apply to it.
type Config struct {
	// PrometheusURL is the Prometheus server for the prometheus source.
	PrometheusURL string
	// Queries are the PromQL queries of the prometheus source.
	Queries Queries
	// Timeout bounds one Fetch.
	Timeout time.Duration
	// Concurrency bounds parallel scrapes of the direct source.
	Concurrency int
	// BodyLimit bounds a scraped /metrics body of the direct source.
	BodyLimit int64
	// HTTPClient is used for requests; nil means a client with Timeout. Either way redirects are
	// not followed: a scrape target that redirects is misconfigured or hostile, and following it
	// would send the direct source's credentials elsewhere.
	HTTPClient *http.Client
	// Scheme is how the direct source reaches each sidecar's /metrics: http (default) or https.
	// With https, HTTPClient's TLS config decides which certificates are trusted.
	Scheme string
	// BasicAuthUser and BasicAuthPassword are sent by the direct source when the user is set
	// (the sidecar's web config requires basic auth).
	BasicAuthUser, BasicAuthPassword string
	Logger                           *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Factory builds a Source from a Config.
type Factory func(Config) (Source, error)

// Registry maps source names to factories.
type Registry struct{ factories map[string]Factory }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Builtin returns a registry with the sources this package provides.
func Builtin() *Registry {
	r := NewRegistry()
	r.Register("prometheus", NewPrometheus)
	r.Register("direct", NewDirect)
	return r
}

// Register adds a factory. Registering a name twice is a programming error.
func (r *Registry) Register(name string, f Factory) {
	if _, dup := r.factories[name]; dup {
		panic("load: source " + name + " registered twice")
	}
	r.factories[name] = f
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the named source.
func (r *Registry) New(name string, cfg Config) (Source, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown load source %q (known: %v)", name, r.Names())
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	c := *cfg.HTTPClient
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg.HTTPClient = &c
	switch cfg.Scheme {
	case "":
		cfg.Scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("load source scheme %q: want http or https", cfg.Scheme)
	}
	return f(cfg)
}
