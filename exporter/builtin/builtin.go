// Package builtin lists Ensemble's built-in collectors and their typed
// configuration. Adding a collector is a new package plus one Spec here.
package builtin

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/cpu"
	"github.com/ensemble-jitsi/ensemble/exporter/jvb"
	"github.com/ensemble-jitsi/ensemble/exporter/memory"
	"github.com/ensemble-jitsi/ensemble/exporter/network"
	"github.com/ensemble-jitsi/ensemble/exporter/nginx"
)

// Config holds every built-in collector's options.
type Config struct {
	CPU     cpu.Config
	Memory  memory.Config
	Network network.Config
	Nginx   nginx.Config
	JVB     jvb.Config
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{
		CPU:     cpu.DefaultConfig(),
		Memory:  memory.DefaultConfig(),
		Network: network.DefaultConfig(),
		Nginx:   nginx.DefaultConfig(),
		JVB:     jvb.DefaultConfig(),
	}
}

// Specs returns the built-in collectors. config is called when a collector
// is built (after flag parsing); hc serves the HTTP collectors.
func Specs(config func() Config, hc *http.Client) []exporter.Spec {
	return []exporter.Spec{
		{Name: cpu.Name, Help: "CPU seconds by mode, logical CPUs and load averages", DefaultEnabled: true,
			New: func(*slog.Logger) (exporter.Collector, error) { return cpu.New(config().CPU) }},
		{Name: memory.Name, Help: "Total and available memory", DefaultEnabled: true,
			New: func(*slog.Logger) (exporter.Collector, error) { return memory.New(config().Memory) }},
		{Name: network.Name, Help: "Bytes and packets per network device", DefaultEnabled: true,
			New: func(*slog.Logger) (exporter.Collector, error) { return network.New(config().Network) }},
		{Name: nginx.Name, Help: "nginx connections and requests from stub_status", DefaultEnabled: true,
			New: func(*slog.Logger) (exporter.Collector, error) {
				c := config().Nginx
				return nginx.New(nginx.NewClient(c.URL, hc), c.Timeout), nil
			}},
		{Name: jvb.Name, Help: "Jitsi Videobridge load and health from its private REST API", DefaultEnabled: true,
			New: func(logger *slog.Logger) (exporter.Collector, error) {
				c := config().JVB
				return jvb.New(jvb.NewClient(c.URL, hc), c.Timeout, c.Source, logger)
			}},
	}
}

// NewHTTPClient returns the client the HTTP collectors share: it keeps
// connections to the local nginx and bridge alive between scrapes and has
// no overall timeout, because every request carries its scrape's deadline.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // bodies are small; gzip would only cost CPU
	}}
}

// Flags are the collector flags of one kingpin application.
type Flags struct {
	cfg        Config
	procPath   string
	collectors *exporter.Flags
}

// AddFlags adds --collector.NAME / --no-collector.NAME /
// --collector.disable-defaults, every --collector.NAME.OPTION, and
// --path.procfs to app. Call app.DefaultEnvars() first for env vars.
func AddFlags(app *kingpin.Application) *Flags {
	f := &Flags{cfg: DefaultConfig()}
	app.Flag("path.procfs", "procfs mount point read by the cpu, memory and network collectors.").
		Default("/proc").StringVar(&f.procPath)
	cpu.AddFlags(app, &f.cfg.CPU)
	network.AddFlags(app, &f.cfg.Network)
	nginx.AddFlags(app, &f.cfg.Nginx)
	jvb.AddFlags(app, &f.cfg.JVB)
	reg, err := exporter.NewRegistry(Specs(f.Config, NewHTTPClient())...)
	if err != nil {
		// The list above is fixed; a clash is a programming error.
		panic(err)
	}
	f.collectors = exporter.AddFlags(app, reg)
	return f
}

// Config returns the parsed configuration.
func (f *Flags) Config() Config {
	c := f.cfg
	c.CPU.ProcPath = f.procPath
	c.Memory.ProcPath = f.procPath
	c.Network.ProcPath = f.procPath
	return c
}

// Enabled returns the names of the enabled collectors.
func (f *Flags) Enabled() []string { return f.collectors.Enabled() }

// NewExporter builds the enabled collectors into an Exporter.
func (f *Flags) NewExporter(logger *slog.Logger) (*exporter.Exporter, error) {
	return f.collectors.NewExporter(logger)
}
