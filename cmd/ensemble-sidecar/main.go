// Command ensemble-sidecar runs next to a Jitsi Videobridge and nginx: it exports the node's
// metrics, registers the node in the local Consul agent with a health check, and drains it on
// SIGTERM (a second SIGTERM or SIGINT ends the wait for meetings).
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/ensemble-jitsi/ensemble/exporter/builtin"
	"github.com/ensemble-jitsi/ensemble/internal/flagdoc"
	"github.com/ensemble-jitsi/ensemble/sidecar"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, starts the sidecar and returns the exit code: 0 after a drain, 1 on a
// runtime error, 2 on bad flags.
func run(args []string, stderr io.Writer) int {
	o := sidecar.DefaultOptions()
	c := newCLI(&o, stderr)
	if _, err := c.app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-sidecar: error: %v\n", err)
		return 2
	}
	if *c.maxProcs > 0 {
		runtime.GOMAXPROCS(*c.maxProcs)
	}
	logger := promslog.New(c.log)
	o.Logger = logger
	// Set with -ldflags "-X github.com/prometheus/common/version.Version=..."; the Meta needs a value.
	o.Version = cmp.Or(version.Version, "devel")
	o.WebListenAddress = *c.web.WebListenAddresses
	o.WebSystemdSocket = *c.web.WebSystemdSocket
	o.WebConfigFile = *c.web.WebConfigFile
	cfg := c.exporter.Config()
	o.CollectorJVBURL, o.CollectorNginxScrapeURI = cfg.JVB.URL, cfg.Nginx.URL
	exp, err := c.exporter.NewExporter(logger)
	if err != nil {
		fmt.Fprintf(stderr, "ensemble-sidecar: error: %v\n", err)
		return 2
	}
	o.Exporter = exp
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "ensemble-sidecar: error: %v\n", err)
		return 2
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skip := make(chan struct{})
	o.SkipWait = skip
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	// The first signal drains (ctx), the second ends the drain's wait (skip).
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		for i := 0; i < 2; i++ {
			select {
			case s := <-sigs:
				if i == 0 {
					logger.Info("signal received; draining", "signal", s.String())
					cancel()
				} else {
					logger.Warn("second signal; skipping the wait for meetings", "signal", s.String())
					close(skip)
				}
			case <-stopped:
				return
			}
		}
	}()

	logger.Info("starting ensemble-sidecar", "version", version.Info())
	if err := sidecar.Run(ctx, o); err != nil {
		logger.Error("ensemble-sidecar failed", "err", err)
		return 1
	}
	return 0
}

// cli holds the parsed command line; flags that map onto sidecar.Options write into it.
type cli struct {
	app      *kingpin.Application
	web      *web.FlagConfig
	exporter *builtin.Flags
	log      *promslog.Config
	maxProcs *int
}

func newCLI(o *sidecar.Options, stderr io.Writer) *cli {
	app := kingpin.New("ensemble-sidecar", "Per-node Jitsi sidecar: metrics, health, Consul registration, graceful drain. "+
		"Consul is reached through CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN(_FILE) and the CONSUL_* TLS variables.").DefaultEnvars()
	app.Version(version.Print("ensemble-sidecar"))
	app.HelpFlag.Short('h')
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	c := &cli{app: app, web: kingpinflag.AddFlags(app, o.WebListenAddress[0])}
	app.Flag("web.control-address", "Listener of POST /drain and /undrain (plain HTTP); off loopback it needs --web.control-token-file.").
		Default(o.WebControlAddress).StringVar(&o.WebControlAddress)
	app.Flag("web.control-token-file", "File with the bearer token control POSTs must carry (Authorization: Bearer ...).").
		StringVar(&o.WebControlTokenFile)
	app.Flag("consul.service", "Consul service name of the node.").Default(o.ConsulService).StringVar(&o.ConsulService)
	app.Flag("consul.service-id", "Stable Consul service ID of the node (default: host name).").Default(o.ConsulServiceID).StringVar(&o.ConsulServiceID)
	durationVar(app.Flag("consul.check-interval", "Interval of the Consul HTTP check on /health."), &o.ConsulCheckInterval)
	durationVar(app.Flag("consul.check-timeout", "Timeout of the Consul HTTP check; the probes get half of it."), &o.ConsulCheckTimeout)
	intVar(app.Flag("consul.check-success-before-passing", "Consecutive successes before the check passes."), &o.ConsulCheckSuccessBeforePassing, 0)
	intVar(app.Flag("consul.check-failures-before-critical", "Consecutive failures before the check is critical."), &o.ConsulCheckFailuresBeforeCritical, 0)
	app.Flag("consul.check-tls-skip-verify", "Let the Consul check accept the listener's certificate unverified (self-signed TLS).").BoolVar(&o.ConsulCheckTLSSkipVerify)
	app.Flag("consul.check-basic-auth-user", "User the Consul check authenticates as when the web config requires basic auth.").StringVar(&o.ConsulCheckBasicAuthUser)
	app.Flag("consul.check-basic-auth-password-file", "File with that user's password (it is stored in the check definition).").StringVar(&o.ConsulCheckBasicAuthPasswordFile)
	durationVar(app.Flag("consul.deregister-after", "Consul deregisters the node after its check is critical this long."), &o.ConsulDeregisterAfter)
	durationVar(app.Flag("consul.resync-interval", "Interval between re-registrations."), &o.ConsulResyncInterval)
	valueVar(app.Flag("node.public-url", "https URL users are sent to (no path or query); required unless the first-boot verdict failed."), &publicURL{&o.NodePublicURL})
	app.Flag("node.firstboot-status", "First-boot verdict file (/run/ensemble/firstboot.json); unless it says ok, the node does not register and /health fails with its error.").StringVar(&o.NodeFirstbootStatus)
	app.Flag("node.address", "Public address of the node (default: the Consul agent's).").StringVar(&o.NodeAddress)
	app.Flag("node.region", "Region of the node.").StringVar(&o.NodeRegion)
	app.Flag("node.tag", "Consul tag of the node (repeatable).").StringsVar(&o.NodeTag)
	intVar(app.Flag("node.capacity", "Logical CPUs published as Meta capacity."), &o.NodeCapacity, 1)
	app.Flag("health.jvb", "Require the bridge's /about/health to pass.").Default("true").BoolVar(&o.HealthJVB)
	app.Flag("health.nginx", "Require nginx stub_status to answer.").Default("true").BoolVar(&o.HealthNginx)
	app.Flag("health.prosody", "Require the local prosody to open a BOSH session for --health.prosody-domain (off: only a Jitsi node runs prosody).").BoolVar(&o.HealthProsody)
	app.Flag("health.prosody-url", "prosody's BOSH endpoint on its http port.").Default(o.HealthProsodyURL).StringVar(&o.HealthProsodyURL)
	app.Flag("health.prosody-domain", "XMPP domain the prosody probe asks for (sent as Host, as nginx does).").Default(o.HealthProsodyDomain).StringVar(&o.HealthProsodyDomain)
	app.Flag("health.jicofo", "Require jicofo's /about/health to answer 200 (off: only a Jitsi node runs jicofo).").BoolVar(&o.HealthJicofo)
	app.Flag("health.jicofo-url", "jicofo's health endpoint on its private REST port.").Default(o.HealthJicofoURL).StringVar(&o.HealthJicofoURL)
	valueVar(app.Flag("health.cpu-threshold", "Fail /health while CPU busy ratio is above this (0 disables).").Default("0"), &ratio{&o.HealthCPUThreshold})
	durationVar(app.Flag("drain.timeout", "Longest wait for meetings to end during a drain."), &o.DrainTimeout)
	app.Flag("drain.jvb-graceful-shutdown", "Ask the bridge for graceful shutdown (or drain mode) when a drain starts.").BoolVar(&o.DrainJVBGracefulShutdown)
	durationVar(app.Flag("drain.poll-interval", "How often a drain asks the bridge for its conferences."), &o.DrainPollInterval)
	app.Flag("web.exporter-metrics", "Also export the sidecar's own go_* and process_* metrics (they cost more CPU per scrape than the collectors).").
		BoolVar(&o.WebExporterMetrics)
	c.maxProcs = app.Flag("runtime.gomaxprocs", "GOMAXPROCS; one is plenty next to a busy bridge.").Default("1").Int()
	c.exporter = builtin.AddFlags(app)
	c.log = &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, c.log)
	flagdoc.Register(app, os.Stdout, os.Exit, map[string]string{"consul.service-id": "host name", "node.capacity": "logical CPUs"})
	return c
}
