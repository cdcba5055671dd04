package services

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// ConsulVersion is the Consul release the project builds and tests against
// (the newest MPL-2.0 1.16.x).
const ConsulVersion = "v1.16.3"

// ConsulPath finds the consul binary: $ENSEMBLE_CONSUL, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/ensemble/consul-v1.16.3 (where
// scripts/install-deps.sh builds it), else consul on PATH.
func ConsulPath() (string, error) {
	if p := os.Getenv("ENSEMBLE_CONSUL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ENSEMBLE_CONSUL: %w", err)
		}
		return p, nil
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "ensemble", "consul-"+ConsulVersion)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("consul")
	if err != nil {
		return "", errors.New("consul " + ConsulVersion + " not found: run scripts/install-deps.sh or set ENSEMBLE_CONSUL")
	}
	return p, nil
}

// ConsulOptions configures StartConsul and StartConsulCluster.
type ConsulOptions struct {
	// Binary is the consul executable; empty means ConsulPath().
	Binary string
	// ACLDefaultDeny enables ACLs with default_policy "deny".
	ACLDefaultDeny bool
	// ManagementToken is the initial management token when ACLs are on. It
	// must be a UUID; empty means a random one (see Consul.Token).
	ManagementToken string
	// NodeName names the agent; empty means "ensemble-<http port>".
	NodeName string
	// ReadyTimeout bounds the wait for a leader; default 30s.
	ReadyTimeout time.Duration
}

// ConsulPorts are the loopback ports one agent listens on. gRPC, gRPC-TLS
// and DNS are disabled so parallel agents cannot clash on their defaults.
type ConsulPorts struct {
	HTTP, Server, SerfLAN, SerfWAN int
}

// Consul is a running agent: a dev agent from StartConsul, or one server of
// a ConsulCluster. Stop, Kill, Restart, Close, Running and Log manage its
// process; after Restart a dev agent comes back empty (no services, KV or
// tokens other than the management token), and a cluster server keeps its
// data directory and rejoins.
type Consul struct {
	// HTTPAddr is 127.0.0.1:PORT of the HTTP API (CONSUL_HTTP_ADDR).
	HTTPAddr string
	// Token is the management token, empty without ACLs.
	Token string
	// NodeName is the agent's node name.
	NodeName string
	// Ports lists every port the agent binds.
	Ports ConsulPorts
	// Dir holds the log and, for cluster servers, the data directory.
	Dir string
	// LogPath collects the agent's output.
	LogPath string

	readyPeers int // cluster size to wait for; 0 for a dev agent
	server
}

// StartConsul starts a dev agent (in-memory state, single server) on free
// loopback ports and returns once it has elected itself leader and, with
// ACLs, accepts the management token.
func StartConsul(ctx context.Context, opts ConsulOptions) (*Consul, error) {
	var c *Consul
	err := retryBindClash(func() error {
		ports, err := freePorts(4, true)
		if err != nil {
			return err
		}
		c, err = newConsul(opts, ports, "consul-dev-")
		if err != nil {
			return err
		}
		c.args = append(c.args, "-dev")
		if err = c.start(ctx); err != nil {
			err = c.failed(err)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func newConsul(opts ConsulOptions, ports []int, dirPrefix string) (*Consul, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = ConsulPath(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "ensemble-"+dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	c := &Consul{
		Ports:    ConsulPorts{HTTP: ports[0], Server: ports[1], SerfLAN: ports[2], SerfWAN: ports[3]},
		NodeName: opts.NodeName,
		Dir:      dir,
		LogPath:  filepath.Join(dir, "consul.log"),
	}
	if c.NodeName == "" {
		c.NodeName = "ensemble-" + strconv.Itoa(c.Ports.HTTP)
	}
	c.server = server{name: "consul " + c.NodeName, bin: bin, dir: dir, logPath: c.LogPath,
		readyTimeout: opts.ReadyTimeout, check: c.ready}
	if c.readyTimeout <= 0 {
		c.readyTimeout = 30 * time.Second
	}
	c.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", c.Ports.HTTP)
	c.args = []string{"agent",
		"-node", c.NodeName,
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-http-port", strconv.Itoa(c.Ports.HTTP),
		"-server-port", strconv.Itoa(c.Ports.Server),
		"-serf-lan-port", strconv.Itoa(c.Ports.SerfLAN),
		"-serf-wan-port", strconv.Itoa(c.Ports.SerfWAN),
		"-grpc-port", "-1", "-grpc-tls-port", "-1", "-dns-port", "-1",
		"-log-level", "info",
	}
	if opts.ACLDefaultDeny {
		c.Token = opts.ManagementToken
		if c.Token == "" {
			c.Token = newUUID()
		}
		// The agent token lets the agent keep its own node entry in sync.
		c.args = append(c.args, "-hcl", fmt.Sprintf(`acl { enabled = true default_policy = "deny" `+
			`enable_token_persistence = false tokens { initial_management = %q agent = %q } }`, c.Token, c.Token))
	}
	return c, nil
}

// ready checks that a leader is known, that a cluster has all its peers and
// that ACLs, when on, accept the management token.
func (c *Consul) ready(ctx context.Context) error {
	leader, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no leader yet")
	}
	if c.readyPeers > 0 {
		_, body, err := fetch(ctx, http.MethodGet, "http://"+c.HTTPAddr+"/v1/status/peers", nil)
		if err != nil {
			return err
		}
		if n := strings.Count(string(body), ":"); n < c.readyPeers {
			return fmt.Errorf("%d of %d raft peers", n, c.readyPeers)
		}
	}
	if c.Token != "" {
		code, body, err := fetch(ctx, http.MethodGet, "http://"+c.HTTPAddr+"/v1/acl/token/self",
			http.Header{"X-Consul-Token": {c.Token}})
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("acl token/self: %d %.100s", code, body)
		}
	}
	return nil
}

// Leader returns the raft address (127.0.0.1:PORT) of the leader as this
// agent sees it, or "" while there is none.
func (c *Consul) Leader(ctx context.Context) (string, error) {
	code, body, err := fetch(ctx, http.MethodGet, "http://"+c.HTTPAddr+"/v1/status/leader", nil)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("consul status/leader: %d %.100s", code, body)
	}
	s, err := strconv.Unquote(strings.TrimSpace(string(body)))
	if err != nil {
		return "", fmt.Errorf("consul status/leader: %q: %w", body, err)
	}
	return s, nil
}

// Config returns a client configuration for this agent, with the
// management token when ACLs are on.
func (c *Consul) Config() *api.Config {
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = c.HTTPAddr
	cfg.Scheme = "http"
	cfg.Token = c.Token
	return cfg
}

// errBindClash marks a start that lost a race for a port.
var errBindClash = errors.New("port taken by another process")

// retryBindClash runs start up to three times while it fails for a port
// another process took between our probe and the child's bind.
func retryBindClash(start func() error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = start(); !errors.Is(err, errBindClash) {
			return err
		}
	}
	return err
}

// newUUID returns a random RFC 4122 version 4 UUID, the form Consul
// requires for token secrets.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
