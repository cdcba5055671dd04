// Package sidecar is the per-node daemon of a Jitsi server: it serves the exporter's metrics
// and a health endpoint, registers the node in the local Consul agent with an HTTP check on
// that endpoint, keeps the registration in place through agent restarts, and drains the node
// (Consul maintenance, then waiting for meetings to end) before it leaves.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/ensemble-jitsi/ensemble/exporter/jvb"
	"github.com/ensemble-jitsi/ensemble/internal/httpserve"
	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// Server limits. Scrapes and health checks are small GETs; nothing needs a large body.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
	maxBodyBytes      = 4 << 10
	shutdownTimeout   = 5 * time.Second
)

// Run serves, registers and, once ctx is cancelled, drains the node, deregisters it and
// returns nil. A drain requested over HTTP leaves the process running, deregistered, until
// POST /undrain or ctx ends; this way a supervisor that restarts exited services cannot put
// a drained node back into placement.
func Run(ctx context.Context, o Options) error {
	defer func() {
		for _, l := range o.WebListeners {
			_ = l.Close()
		}
		if o.WebControlListener != nil {
			_ = o.WebControlListener.Close()
		}
	}()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("invalid options: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	verdict := o.FirstbootVerdict()
	if verdict != nil {
		logger.Error("first boot failed; serving /health 503 and not registering in Consul", "err", verdict, "status_file", o.NodeFirstbootStatus)
	}
	tlsOn, err := webConfigTLS(o.WebConfigFile)
	if err != nil {
		return err
	}
	header, err := checkHeader(&o)
	if err != nil {
		return err
	}
	var tokenSum []byte
	if o.WebControlTokenFile != "" {
		if tokenSum, err = readToken(o.WebControlTokenFile); err != nil {
			return err
		}
	}
	cfg := o.Consul
	if cfg == nil {
		cfg = api.DefaultConfig()
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("consul client: %w", err)
	}

	listeners, err := listen(&o)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for _, l := range listeners {
		logger.Info("listening", "address", l.Addr().String(), "tls", tlsOn)
	}
	control := o.WebControlListener
	if control == nil {
		if control, err = net.Listen("tcp", o.WebControlAddress); err != nil {
			return fmt.Errorf("web.control-address %q: %w", o.WebControlAddress, err)
		}
	}
	defer control.Close()
	logger.Info("control listening", "address", control.Addr().String(), "token", tokenSum != nil)
	tcp, ok := listeners[0].Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("the first listener %s is not TCP; Consul's check needs one", listeners[0].Addr())
	}

	var goMetrics *prometheus.Registry
	if o.WebExporterMetrics {
		goMetrics = prometheus.NewRegistry()
		goMetrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	own := &collectorSet{}
	m := newMetrics(own)
	hc := &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// The bridge and nginx answer on fixed local paths; a redirect means something else
		// answers there, and following it would read (and log) another server's body.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var (
		jc     *jvb.Client
		bridge videobridge
	)
	if o.CollectorJVBURL != "" {
		jc = jvb.NewClient(o.CollectorJVBURL, hc)
		bridge = jvbBridge{c: jc}
	}
	probes, err := buildProbes(&o, jc, hc)
	if err != nil {
		return err
	}
	if verdict != nil {
		probes = append([]Probe{firstbootProbe(verdict)}, probes...)
	}
	svc := newRegistration(&o, tcp.Port, healthURL(tcp, tlsOn), header)
	reg := &registrar{
		agent:     client.Agent(),
		reg:       svc,
		nodeCheck: newNodeCheck(svc),
		logger:    logger.With("component", "consul"),
		retryMin:  o.ConsulRetryMin,
		resync:    o.ConsulResyncInterval,
		metrics:   m,
	}
	ctl := newController(&o, logger.With("component", "drain"), reg, bridge, m)
	handler, err := routes(&o, logger, own, goMetrics, ctl, &healthHandler{
		probes: probes,
		// Half the check timeout: a hung probe still yields a 503 well before Consul gives
		// up on the check, and the node leaves ?passing within one check interval.
		timeout:  o.ConsulCheckTimeout / 2,
		success:  m.probeSuccess,
		draining: func() bool { return ctl.snapshot().State != StateServing },
	})
	if err != nil {
		return err
	}

	servers, err := httpserve.Start(listeners, serverOptions(handler, o.WebConfigFile, logger.With("component", "web")))
	if err != nil {
		_ = control.Close()
		return err
	}
	// The control listener is plain HTTP on loopback (or guarded by its token): no web config.
	ctlLog := logger.With("component", "control")
	ctlServers, err := httpserve.Start([]net.Listener{control},
		serverOptions(controlRoutes(newControlGuard(control.Addr(), tokenSum), ctl, ctlLog), "", ctlLog))
	if err != nil {
		_ = servers.Shutdown(context.WithoutCancel(ctx))
		return err
	}
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	serveErr := make(chan error, 1)
	go func() {
		select {
		case err := <-servers.Err():
			serveErr <- err
		case err := <-ctlServers.Err():
			serveErr <- fmt.Errorf("control listener: %w", err)
		case <-work.Done():
		}
	}()
	if verdict != nil {
		err = ctl.idle(ctx, serveErr, verdict)
	} else {
		err = ctl.loop(ctx, work, serveErr)
	}

	sctx, scancel := context.WithTimeout(work, shutdownTimeout)
	defer scancel()
	_ = servers.Shutdown(sctx)
	_ = ctlServers.Shutdown(sctx)
	return err
}

// serverOptions are the sidecar's server limits (internal/httpserve: one server per listener,
// TLS and basic auth from webConfigFile when set) for handler.
func serverOptions(handler http.Handler, webConfigFile string, logger *slog.Logger) httpserve.Options {
	return httpserve.Options{
		Handler:           handler,
		WebConfigFile:     webConfigFile,
		Logger:            logger,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// listen binds every listener before anything is served, so ":0" resolves to a known port.
func listen(o *Options) ([]net.Listener, error) {
	if len(o.WebListeners) > 0 {
		return o.WebListeners, nil
	}
	if o.WebSystemdSocket {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		if len(ls) == 0 {
			return nil, errors.New("systemd socket activation: no sockets passed")
		}
		return ls, nil
	}
	var ls []net.Listener
	for _, addr := range o.WebListenAddress {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range ls {
				_ = l.Close()
			}
			return nil, fmt.Errorf("web.listen-address %q: %w", addr, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// healthURL is the URL the local Consul agent calls: the listener's own address, or loopback
// when it listens on every address.
func healthURL(a *net.TCPAddr, tlsOn bool) string {
	host := "127.0.0.1"
	if !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(a.Port)), Path: "/health"}
	return u.String()
}

// webConfigTLS validates the exporter-toolkit web config and reports whether it enables TLS.
func webConfigTLS(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	if err := web.Validate(path); err != nil {
		return false, fmt.Errorf("web.config.file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("web.config.file: %w", err)
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, fmt.Errorf("web.config.file %s: %w", path, err)
	}
	return c.TLSConfig.IsEnabled(), nil
}

// checkHeader returns the Authorization header the Consul check sends, if basic auth is set.
func checkHeader(o *Options) (map[string][]string, error) {
	if o.ConsulCheckBasicAuthUser == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.ConsulCheckBasicAuthPasswordFile)
	if err != nil {
		return nil, fmt.Errorf("consul.check-basic-auth-password-file: %w", err)
	}
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(o.ConsulCheckBasicAuthUser, strings.TrimRight(string(b), "\r\n"))
	return map[string][]string{"Authorization": req.Header.Values("Authorization")}, nil
}
