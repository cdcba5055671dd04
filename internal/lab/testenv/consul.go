package testenv

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// ConsulOptions configures StartConsul and StartConsulCluster.
type ConsulOptions = services.ConsulOptions

// Consul is one running Consul agent.
type Consul struct {
	// Addr is the HTTP API address 127.0.0.1:PORT (CONSUL_HTTP_ADDR).
	Addr string
	// Token is the management token, empty without ACLs.
	Token string
	// Agent gives the ports, the log and Leader/Kill/Running.
	Agent *services.Consul
}

// StartConsul starts a dev agent on free ports and stops it when the test
// ends.
func StartConsul(t testing.TB, opts ConsulOptions) *Consul {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	c, err := services.StartConsul(ctx, opts)
	if err != nil {
		t.Fatalf("start consul: %v", err)
	}
	cleanup(t, "consul "+c.NodeName, c.Log, c.Close)
	return &Consul{Addr: c.HTTPAddr, Token: c.Token, Agent: c}
}

// Client returns an API client for the agent, with the management token
// when ACLs are on.
func (c *Consul) Client(t testing.TB) *api.Client {
	t.Helper()
	cl, err := api.NewClient(c.Agent.Config())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// HeldClient returns an API client whose every request passes through a proxy that first
// calls hold (which may wait, as a Consul electing a leader or just restarted answers slowly)
// and then relays it to the agent, unless the client gave up meanwhile.
func (c *Consul) HeldClient(t testing.TB, hold func(*http.Request)) *api.Client {
	t.Helper()
	target, err := url.Parse("http://" + c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold(r); r.Context().Err() == nil {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := c.Agent.Config()
	cfg.Address = srv.Listener.Addr().String()
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// Stop stops the agent now (the test's cleanup then has nothing to do).
func (c *Consul) Stop(t testing.TB) {
	t.Helper()
	if err := c.Agent.Stop(); err != nil {
		t.Fatal(err)
	}
}

// Restart stops the agent and starts it again on the same ports; a dev
// agent comes back with empty state.
func (c *Consul) Restart(t testing.TB) {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	if err := c.Agent.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// ConsulCluster is a set of Consul servers with one leader.
type ConsulCluster struct {
	Servers []*Consul
	cluster *services.ConsulCluster
}

// StartConsulCluster starts n servers on loopback that elect a leader, and
// stops them when the test ends.
func StartConsulCluster(t testing.TB, n int, opts ConsulOptions) *ConsulCluster {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	cl, err := services.StartConsulCluster(ctx, n, opts)
	if err != nil {
		t.Fatalf("start consul cluster: %v", err)
	}
	// Cleanups run last-in first-out: the logs are printed before Close
	// removes them.
	t.Cleanup(func() {
		if err := cl.Close(); err != nil {
			t.Errorf("stop consul cluster: %v", err)
		}
	})
	out := &ConsulCluster{cluster: cl}
	for _, s := range cl.Servers {
		out.Servers = append(out.Servers, &Consul{Addr: s.HTTPAddr, Token: s.Token, Agent: s})
		cleanup(t, "consul "+s.NodeName, s.Log, func() error { return nil })
	}
	return out
}

// Leader returns the running server that currently leads, waiting for an
// election if needed.
func (cl *ConsulCluster) Leader(t testing.TB) *Consul {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	s, err := cl.cluster.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cl.Servers {
		if c.Agent == s {
			return c
		}
	}
	t.Fatalf("leader %s is not in the cluster", s.NodeName)
	return nil
}
