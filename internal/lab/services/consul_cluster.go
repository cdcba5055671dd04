package services

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ConsulCluster is a group of Consul servers on loopback that elected one
// leader among themselves (non-dev agents with data directories).
type ConsulCluster struct {
	Servers []*Consul
}

// StartConsulCluster starts n servers with -bootstrap-expect n, each joined
// to the others, and returns once every one of them sees a leader and all n
// raft peers. opts.NodeName is used as a prefix.
func StartConsulCluster(ctx context.Context, n int, opts ConsulOptions) (*ConsulCluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("consul cluster: need at least 1 server, got %d", n)
	}
	var cl *ConsulCluster
	err := retryBindClash(func() error {
		var err error
		cl, err = startCluster(ctx, n, opts)
		return err
	})
	return cl, err
}

func startCluster(ctx context.Context, n int, opts ConsulOptions) (*ConsulCluster, error) {
	ports, err := freePorts(4*n, true)
	if err != nil {
		return nil, err
	}
	prefix := opts.NodeName
	if prefix == "" {
		prefix = "ensemble-server"
	}
	cl := &ConsulCluster{}
	for i := 0; i < n; i++ {
		o := opts
		o.NodeName = prefix + "-" + strconv.Itoa(i+1)
		c, err := newConsul(o, ports[4*i:4*i+4], "consul-server-")
		if err != nil {
			_ = cl.Close()
			return nil, err
		}
		c.readyPeers = n
		cl.Servers = append(cl.Servers, c)
	}
	for i, c := range cl.Servers {
		c.args = append(c.args, "-server", "-bootstrap-expect", strconv.Itoa(n),
			"-data-dir", filepath.Join(c.Dir, "data"),
			"-hcl", "disable_update_check = true",
			// Elections in about a second instead of five.
			"-hcl", "performance { raft_multiplier = 1 }",
			"-retry-interval", "200ms")
		for j, o := range cl.Servers {
			if j != i {
				c.args = append(c.args, "-retry-join", fmt.Sprintf("127.0.0.1:%d", o.Ports.SerfLAN))
			}
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, c := range cl.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		clash := false
		var logs string
		for _, c := range cl.Servers {
			log := tailFile(c.LogPath, 4<<10)
			clash = clash || bindClash(log)
			logs += "\n--- " + c.NodeName + ":\n" + log
		}
		_ = cl.Close()
		if clash {
			return nil, fmt.Errorf("consul cluster: %w: %w", err, errBindClash)
		}
		return nil, fmt.Errorf("consul cluster: %w%s", err, logs)
	}
	return cl, nil
}

// Leader waits until a running server reports a leader that is itself
// running, and returns that server.
func (cl *ConsulCluster) Leader(ctx context.Context) (*Consul, error) {
	var last error = errors.New("no running server")
	for {
		for _, c := range cl.Servers {
			if !c.Running() {
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			addr, err := c.Leader(qctx)
			cancel()
			if err != nil {
				last = err
				continue
			}
			for _, s := range cl.Servers {
				if addr == fmt.Sprintf("127.0.0.1:%d", s.Ports.Server) && s.Running() {
					return s, nil
				}
			}
			last = fmt.Errorf("%s sees leader %q", c.NodeName, addr)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("consul cluster leader: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops every server and removes their directories.
func (cl *ConsulCluster) Close() error {
	var wg sync.WaitGroup
	errs := make([]error, len(cl.Servers))
	for i, c := range cl.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
