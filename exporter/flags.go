package exporter

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
)

// Flags holds the collector selection flags of one kingpin application.
type Flags struct {
	reg             *Registry
	disableDefaults *bool
	switches        map[string]*collectorSwitch
	timeout         time.Duration
}

// AddFlags adds, in node_exporter's style, --collector.NAME (and kingpin's
// --no-collector.NAME) for every Spec in reg, --collector.disable-defaults
// and --collector.timeout (the bound of Exporter.Collect and of scrapes
// without Prometheus's timeout header) to app. Call app.DefaultEnvars()
// first to give every flag an env var.
func AddFlags(app *kingpin.Application, reg *Registry) *Flags {
	f := &Flags{reg: reg, switches: map[string]*collectorSwitch{}}
	f.disableDefaults = app.Flag("collector.disable-defaults",
		"Disable every collector not enabled explicitly with --collector.NAME.").Default("false").Bool()
	cli.PositiveDurationVar(app.Flag("collector.timeout",
		"Bound of a scrape when the request carries no X-Prometheus-Scrape-Timeout-Seconds header.").
		Default(DefaultTimeout.String()), &f.timeout)
	for _, s := range reg.Specs() {
		sw := &collectorSwitch{enabled: s.DefaultEnabled}
		state := "disabled"
		if s.DefaultEnabled {
			state = "enabled"
		}
		app.Flag("collector."+s.Name, fmt.Sprintf("%s (default: %s).", s.Help, state)).SetValue(sw)
		f.switches[s.Name] = sw
	}
	return f
}

// Option declares the flag --collector.NAME.OPTION; collectors use it so
// that all option flags share one naming scheme.
func Option(app *kingpin.Application, collector, option, help string) *kingpin.FlagClause {
	return app.Flag("collector."+collector+"."+option, help)
}

// Enabled returns the names of the collectors that should run, in
// registration order. Call it after the app has parsed its arguments.
func (f *Flags) Enabled() []string {
	var names []string
	for _, s := range f.reg.Specs() {
		sw := f.switches[s.Name]
		on := sw.enabled
		if !sw.set && *f.disableDefaults {
			on = false
		}
		if on {
			names = append(names, s.Name)
		}
	}
	return names
}

// NewExporter builds the enabled collectors and an Exporter running them.
func (f *Flags) NewExporter(logger *slog.Logger) (*Exporter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	collectors := map[string]Collector{}
	for _, name := range f.Enabled() {
		spec, _ := f.reg.Lookup(name)
		c, err := spec.New(logger.With("collector", name))
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", name, err)
		}
		collectors[name] = c
	}
	logger.Info("collectors enabled", "collectors", f.Enabled())
	return New(collectors, Options{Logger: logger, Timeout: f.timeout}), nil
}

// collectorSwitch is a kingpin bool value that also records whether it was
// set (on the command line or from the environment), which
// --collector.disable-defaults needs to know.
type collectorSwitch struct {
	enabled bool
	set     bool
}

func (s *collectorSwitch) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("not a boolean: %q", v)
	}
	s.enabled, s.set = b, true
	return nil
}

func (s *collectorSwitch) String() string { return strconv.FormatBool(s.enabled) }

// IsBoolFlag makes kingpin accept --collector.NAME without a value and
// generate --no-collector.NAME.
func (s *collectorSwitch) IsBoolFlag() bool { return true }
