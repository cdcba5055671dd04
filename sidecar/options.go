package sidecar

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// Options configures Run. Field names mirror the command-line flags of ensemble-sidecar
// (WebListenAddress is --web.listen-address, ConsulCheckInterval is --consul.check-interval...).
type Options struct {
	// WebListenAddress lists the addresses to listen on; ":0" picks a free port.
	WebListenAddress []string
	// WebListeners, when set, are served instead of binding WebListenAddress (for embedding
	// and tests). Run closes them.
	WebListeners []net.Listener
	// WebSystemdSocket serves on systemd socket-activated listeners instead.
	WebSystemdSocket bool
	// WebConfigFile is an exporter-toolkit web config (TLS, basic auth); empty serves plain HTTP.
	WebConfigFile string
	// WebControlAddress is the listener of POST /drain and /undrain (plain HTTP). Off loopback
	// it needs WebControlTokenFile.
	WebControlAddress string
	// WebControlListener, when set, is served instead of binding WebControlAddress (tests).
	// Run closes it.
	WebControlListener net.Listener
	// WebControlTokenFile holds the bearer token control POSTs must carry; empty requires none.
	WebControlTokenFile string
	// WebExporterMetrics adds the sidecar's own go_* and process_* metrics to /metrics. They
	// cost more CPU per scrape than all the collectors (docs/benchmarks.md), so they are opt-in,
	// as in ensemble-exporter.
	WebExporterMetrics bool

	// Consul is the client configuration; nil means api.DefaultConfig(), which reads
	// CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN(_FILE) and the CONSUL_* TLS variables.
	Consul *api.Config
	// ConsulService is the service name the node registers under.
	ConsulService string
	// ConsulServiceID identifies this node; it must stay the same across restarts.
	ConsulServiceID string
	// ConsulCheckInterval and ConsulCheckTimeout configure the HTTP check on /health.
	ConsulCheckInterval time.Duration
	ConsulCheckTimeout  time.Duration
	// ConsulCheckSuccessBeforePassing and ConsulCheckFailuresBeforeCritical damp flapping.
	ConsulCheckSuccessBeforePassing   int
	ConsulCheckFailuresBeforeCritical int
	// ConsulCheckTLSSkipVerify makes the agent accept any certificate when the listener uses TLS
	// (typically a self-signed one for 127.0.0.1).
	ConsulCheckTLSSkipVerify bool
	// ConsulCheckBasicAuthUser and ConsulCheckBasicAuthPasswordFile give the agent credentials
	// for /health when the web config requires basic auth. The password ends up in the check
	// definition, readable by whoever may read the agent's checks.
	ConsulCheckBasicAuthUser         string
	ConsulCheckBasicAuthPasswordFile string
	// ConsulDeregisterAfter is the safety net for a sidecar that dies without deregistering.
	ConsulDeregisterAfter time.Duration
	// ConsulResyncInterval is how often the registration is written again.
	ConsulResyncInterval time.Duration
	// ConsulRetryMin is the first wait after a failed Consul call; it doubles up to
	// ConsulResyncInterval.
	ConsulRetryMin time.Duration

	// NodePublicURL is where users are sent: an absolute https URL without path or query.
	NodePublicURL string
	// NodeAddress is the node's public address; empty lets Consul use the agent's address.
	NodeAddress string
	// NodeRegion and NodeTag are published in the registration.
	NodeRegion string
	NodeTag    []string
	// NodeCapacity is the node's logical CPU count, published as Meta capacity.
	NodeCapacity int
	// NodeFirstbootStatus is the first-boot verdict file (/run/ensemble/firstboot.json).
	// When set and the verdict is not ok (or the file is missing), the node is not
	// registered, /health answers 503 with the reason, and NodePublicURL may be empty.
	NodeFirstbootStatus string

	// CollectorJVBURL and CollectorNginxScrapeURI are the endpoints the health probes and the
	// drain talk to (the same the exporter scrapes). Empty disables that probe.
	CollectorJVBURL         string
	CollectorNginxScrapeURI string
	// HealthJVB and HealthNginx switch the jvb and nginx probes of /health.
	HealthJVB   bool
	HealthNginx bool
	// HealthProsody asks prosody for a BOSH session on HealthProsodyURL for the XMPP domain
	// HealthProsodyDomain (sent as Host, as nginx does); HealthJicofo requires jicofo's
	// HealthJicofoURL (/about/health) to answer 200. Off by default: only a Jitsi node runs them,
	// and the jitsi role turns them on.
	HealthProsody       bool
	HealthProsodyURL    string
	HealthProsodyDomain string
	HealthJicofo        bool
	HealthJicofoURL     string
	// HealthCPUThreshold fails /health while CPU use is above this ratio (0 disables).
	HealthCPUThreshold float64
	// Probes replaces the probes built from the fields above when not nil.
	Probes []Probe

	// DrainTimeout bounds the wait for meetings to end.
	DrainTimeout time.Duration
	// DrainJVBGracefulShutdown asks the bridge to shut down gracefully when a drain starts.
	DrainJVBGracefulShutdown bool
	// DrainPollInterval is how often a drain asks the bridge for its conferences.
	DrainPollInterval time.Duration
	// DrainProgressInterval is how often a drain logs its progress.
	DrainProgressInterval time.Duration
	// SkipWait, once it receives or is closed (the second SIGTERM; Run's ctx being cancelled is
	// the first), ends the wait of the running drain and of any later one.
	SkipWait <-chan struct{}

	// Exporter supplies the node metrics served on /metrics, through its own handler so that
	// Prometheus's scrape timeout bounds the collectors; nil serves only the sidecar's own.
	Exporter *exporter.Exporter
	// Version is published as Meta version and on the landing page.
	Version string
	// Logger receives all logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults of the ensemble-sidecar flags.
func DefaultOptions() Options {
	host, _ := os.Hostname()
	return Options{
		WebListenAddress:                  []string{":9105"},
		WebControlAddress:                 "127.0.0.1:9106",
		ConsulService:                     "jitsi",
		ConsulServiceID:                   host,
		ConsulCheckInterval:               2 * time.Second,
		ConsulCheckTimeout:                time.Second,
		ConsulCheckSuccessBeforePassing:   2,
		ConsulCheckFailuresBeforeCritical: 1,
		ConsulDeregisterAfter:             10 * time.Minute,
		ConsulResyncInterval:              30 * time.Second,
		ConsulRetryMin:                    250 * time.Millisecond,
		NodeCapacity:                      runtime.NumCPU(),
		CollectorJVBURL:                   "http://127.0.0.1:8080",
		CollectorNginxScrapeURI:           "http://127.0.0.1:80/nginx_status",
		HealthJVB:                         true,
		HealthNginx:                       true,
		HealthProsodyURL:                  "http://127.0.0.1:5280/http-bind",
		HealthProsodyDomain:               "meet.jitsi",
		HealthJicofoURL:                   "http://127.0.0.1:8888/about/health",
		DrainTimeout:                      2 * time.Hour,
		DrainPollInterval:                 5 * time.Second,
		DrainProgressInterval:             time.Minute,
	}
}

// ValidatePublicURL checks that s is an absolute https URL without path, query or fragment.
// It applies the selector's own rules, so a node the sidecar registers is one the selector
// accepts.
func ValidatePublicURL(s string) error {
	_, err := registration.ParsePublicURL(s)
	return err
}

// FirstbootVerdict returns nil when NodeFirstbootStatus is unset or records a successful
// first boot, and otherwise the reason the node must not register.
func (o *Options) FirstbootVerdict() error {
	if o.NodeFirstbootStatus == "" {
		return nil
	}
	return status.Verdict(o.NodeFirstbootStatus)
}

// Validate checks the options the way Run does, so a command can reject bad flags before
// it starts anything.
func (o *Options) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %v", name, d))
		}
	}
	positive("consul.check-interval", o.ConsulCheckInterval)
	positive("consul.check-timeout", o.ConsulCheckTimeout)
	positive("consul.deregister-after", o.ConsulDeregisterAfter)
	positive("consul.resync-interval", o.ConsulResyncInterval)
	positive("consul retry minimum", o.ConsulRetryMin)
	positive("drain.timeout", o.DrainTimeout)
	positive("drain poll interval", o.DrainPollInterval)
	positive("drain progress interval", o.DrainProgressInterval)
	if o.ConsulCheckTimeout > o.ConsulCheckInterval {
		errs = append(errs, fmt.Errorf("consul.check-timeout (%v) must not exceed consul.check-interval (%v)", o.ConsulCheckTimeout, o.ConsulCheckInterval))
	}
	if o.ConsulService == "" {
		errs = append(errs, errors.New("consul.service must not be empty"))
	}
	if o.ConsulServiceID == "" {
		errs = append(errs, errors.New("consul.service-id must not be empty (no host name found)"))
	} else if err := registration.ValidServiceID(o.ConsulServiceID); err != nil {
		errs = append(errs, fmt.Errorf("consul.service-id: %w", err))
	}
	if (o.ConsulCheckBasicAuthUser == "") != (o.ConsulCheckBasicAuthPasswordFile == "") {
		errs = append(errs, errors.New("consul.check-basic-auth-user and consul.check-basic-auth-password-file go together"))
	}
	switch {
	case o.FirstbootVerdict() != nil:
		// The node will not register; its URL, probably never written, does not matter.
	case o.NodePublicURL == "":
		errs = append(errs, errors.New("--node.public-url is required (unless --node.firstboot-status records a failed first boot)"))
	default:
		if err := ValidatePublicURL(o.NodePublicURL); err != nil {
			errs = append(errs, fmt.Errorf("node.public-url: %w", err))
		}
	}
	if o.NodeCapacity <= 0 {
		errs = append(errs, fmt.Errorf("node.capacity must be positive, got %d", o.NodeCapacity))
	}
	if o.HealthProsody {
		if err := cli.ValidateHTTPURL(o.HealthProsodyURL); err != nil {
			errs = append(errs, fmt.Errorf("health.prosody-url: %w", err))
		}
		if o.HealthProsodyDomain == "" {
			errs = append(errs, errors.New("health.prosody-domain must not be empty while health.prosody is on"))
		}
	}
	if o.HealthJicofo {
		if err := cli.ValidateHTTPURL(o.HealthJicofoURL); err != nil {
			errs = append(errs, fmt.Errorf("health.jicofo-url: %w", err))
		}
	}
	if o.HealthCPUThreshold < 0 || o.HealthCPUThreshold > 1 {
		errs = append(errs, fmt.Errorf("health.cpu-threshold must be within [0, 1], got %v", o.HealthCPUThreshold))
	}
	if o.WebControlListener == nil {
		switch {
		case o.WebControlAddress == "":
			errs = append(errs, errors.New("web.control-address must not be empty"))
		case !loopbackAddress(o.WebControlAddress) && o.WebControlTokenFile == "":
			errs = append(errs, fmt.Errorf("web.control-address %q is not a loopback address: set web.control-token-file, or anyone who reaches it could drain the node", o.WebControlAddress))
		}
	}
	if len(o.WebListenAddress) == 0 && len(o.WebListeners) == 0 && !o.WebSystemdSocket {
		errs = append(errs, errors.New("web.listen-address: no address to listen on"))
	}
	return errors.Join(errs...)
}
