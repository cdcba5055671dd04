// Command ensemble-sidecar runs next to a Jitsi Videobridge and nginx: it exports the node's
// metrics, registers the node in the local Consul agent with a health check, and drains it on
// SIGTERM (a second SIGTERM or SIGINT ends the wait for meetings).
package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/exporter/builtin"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, starts the sidecar and returns the exit code: 0 after a drain, 1 on a
// runtime error, 2 on bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	o := sidecar.DefaultOptions()
	app, start := newApp(&o, stdout, stderr)
	return app.Run(args, start)
}

// newApp declares the flags, which write into o, and returns the function that runs the sidecar.
func newApp(o *sidecar.Options, stdout, stderr io.Writer) (*cli.App, func(context.Context, cli.Session) error) {
	app := cli.New("ensemble-sidecar", "Per-node Jitsi sidecar: metrics, health, Consul registration, graceful drain. "+
		"Consul is reached through CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN(_FILE) and the CONSUL_* TLS variables.", stdout, stderr)
	web := kingpinflag.AddFlags(app.Application, o.WebListenAddress[0])
	app.Flag("web.control-address", "Listener of POST /drain and /undrain (plain HTTP); off loopback it needs --web.control-token-file.").
		Default(o.WebControlAddress).StringVar(&o.WebControlAddress)
	app.Flag("web.control-token-file", "File with the bearer token control POSTs must carry (Authorization: Bearer ...).").
		StringVar(&o.WebControlTokenFile)
	app.Flag("consul.service", "Consul service name of the node.").Default(o.ConsulService).StringVar(&o.ConsulService)
	app.Flag("consul.service-id", "Stable Consul service ID of the node (default: host name).").Default(o.ConsulServiceID).StringVar(&o.ConsulServiceID)
	app.DocDefault("consul.service-id", "host name")
	duration(app.Flag("consul.check-interval", "Interval of the Consul HTTP check on /health."), &o.ConsulCheckInterval)
	duration(app.Flag("consul.check-timeout", "Timeout of the Consul HTTP check; the probes get half of it."), &o.ConsulCheckTimeout)
	atLeast(app.Flag("consul.check-success-before-passing", "Consecutive successes before the check passes."), &o.ConsulCheckSuccessBeforePassing, 0)
	atLeast(app.Flag("consul.check-failures-before-critical", "Consecutive failures before the check is critical."), &o.ConsulCheckFailuresBeforeCritical, 0)
	app.Flag("consul.check-tls-skip-verify", "Let the Consul check accept the listener's certificate unverified (self-signed TLS).").BoolVar(&o.ConsulCheckTLSSkipVerify)
	app.Flag("consul.check-basic-auth-user", "User the Consul check authenticates as when the web config requires basic auth.").StringVar(&o.ConsulCheckBasicAuthUser)
	app.Flag("consul.check-basic-auth-password-file", "File with that user's password (it is stored in the check definition).").StringVar(&o.ConsulCheckBasicAuthPasswordFile)
	duration(app.Flag("consul.deregister-after", "Consul deregisters the node after its check is critical this long."), &o.ConsulDeregisterAfter)
	duration(app.Flag("consul.resync-interval", "Interval between re-registrations."), &o.ConsulResyncInterval)
	cli.CheckedStringVar(app.Flag("node.public-url", "https URL users are sent to (no path or query); required unless the first-boot verdict failed."), &o.NodePublicURL,
		func(s string) error {
			// Empty is left to Options.Validate: it is allowed when the first-boot verdict failed
			// (the unit passes ${ENSEMBLE_SIDECAR_NODE_PUBLIC_URL}, empty on a node never applied).
			if s == "" {
				return nil
			}
			return sidecar.ValidatePublicURL(s)
		})
	app.Flag("node.firstboot-status", "First-boot verdict file (/run/ensemble/firstboot.json); unless it says ok, the node does not register and /health fails with its error.").StringVar(&o.NodeFirstbootStatus)
	app.Flag("node.address", "Public address of the node (default: the Consul agent's).").StringVar(&o.NodeAddress)
	app.Flag("node.region", "Region of the node.").StringVar(&o.NodeRegion)
	app.Flag("node.tag", "Consul tag of the node (repeatable).").StringsVar(&o.NodeTag)
	atLeast(app.Flag("node.capacity", "Logical CPUs published as Meta capacity."), &o.NodeCapacity, 1)
	app.DocDefault("node.capacity", "logical CPUs")
	app.Flag("health.jvb", "Require the bridge's /about/health to pass.").Default("true").BoolVar(&o.HealthJVB)
	app.Flag("health.nginx", "Require nginx stub_status to answer.").Default("true").BoolVar(&o.HealthNginx)
	app.Flag("health.prosody", "Require the local prosody to open a BOSH session for --health.prosody-domain (off: only a Jitsi node runs prosody).").BoolVar(&o.HealthProsody)
	app.Flag("health.prosody-url", "prosody's BOSH endpoint on its http port.").Default(o.HealthProsodyURL).StringVar(&o.HealthProsodyURL)
	app.Flag("health.prosody-domain", "XMPP domain the prosody probe asks for (sent as Host, as nginx does).").Default(o.HealthProsodyDomain).StringVar(&o.HealthProsodyDomain)
	app.Flag("health.jicofo", "Require jicofo's /about/health to answer 200 (off: only a Jitsi node runs jicofo).").BoolVar(&o.HealthJicofo)
	app.Flag("health.jicofo-url", "jicofo's health endpoint on its private REST port.").Default(o.HealthJicofoURL).StringVar(&o.HealthJicofoURL)
	cli.RatioVar(app.Flag("health.cpu-threshold", "Fail /health while CPU busy ratio is above this (0 disables).").Default("0"), &o.HealthCPUThreshold)
	duration(app.Flag("drain.timeout", "Longest wait for meetings to end during a drain."), &o.DrainTimeout)
	app.Flag("drain.jvb-graceful-shutdown", "Ask the bridge for graceful shutdown (or drain mode) when a drain starts.").BoolVar(&o.DrainJVBGracefulShutdown)
	duration(app.Flag("drain.poll-interval", "How often a drain asks the bridge for its conferences."), &o.DrainPollInterval)
	app.Flag("web.exporter-metrics", "Also export the sidecar's own go_* and process_* metrics (they cost more CPU per scrape than the collectors).").
		BoolVar(&o.WebExporterMetrics)
	app.MaxProcs(1, "GOMAXPROCS; one is plenty next to a busy bridge.")
	app.GCPercent(25, "Go GC target percentage (GOGC, which overrides it when set). The live heap is about 0.3 MiB: 25 makes Go's 4 MiB minimum heap goal 1 MiB, about 2.5 MiB less RSS than 100.")
	collectors := builtin.AddFlags(app.Application)

	return app, func(ctx context.Context, s cli.Session) error {
		o.Logger = s.Logger
		o.Version = cli.Version()
		o.WebListenAddress = *web.WebListenAddresses
		o.WebSystemdSocket = *web.WebSystemdSocket
		o.WebConfigFile = *web.WebConfigFile
		cfg := collectors.Config()
		o.CollectorJVBURL, o.CollectorNginxScrapeURI = cfg.JVB.URL, cfg.Nginx.URL
		exp, err := collectors.NewExporter(s.Logger)
		if err != nil {
			return cli.UsageError(err)
		}
		o.Exporter = exp
		if err := o.Validate(); err != nil {
			return cli.UsageError(err)
		}
		// The first signal drains (ctx), the second ends the drain's wait for meetings.
		o.SkipWait = s.Again
		s.Logger.Info("starting ensemble-sidecar", "version", version.Info())
		return sidecar.Run(ctx, *o)
	}
}

// duration binds a positive-duration flag whose default is *p (sidecar.DefaultOptions).
func duration(fc *kingpin.FlagClause, p *time.Duration) {
	cli.PositiveDurationVar(fc.Default(p.String()), p)
}

// atLeast binds an integer flag not below lo whose default is *p.
func atLeast(fc *kingpin.FlagClause, p *int, lo int) {
	cli.IntAtLeastVar(fc.Default(strconv.Itoa(*p)), p, lo)
}
