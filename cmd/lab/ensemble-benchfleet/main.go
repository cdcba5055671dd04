// Command ensemble-benchfleet sets up the world for scripts/bench-selector.sh: a real Consul dev agent
// with N registered Jitsi nodes, and two baselines: a bare net/http handler returning a fixed room JSON
// (BARE_URL), and a bare handler that does one Consul KV create-only check-and-set of the requested
// path and nothing else (BARE_CAS_URL), the floor of binding a new room in Consul. It prints shell
// assignments (CONSUL_HTTP_ADDR=..., BARE_URL=..., BARE_CAS_URL=...) once everything is up, then runs
// until its standard input closes or it gets SIGTERM/SIGINT, and stops Consul. It is a benchmark
// fixture, not part of a deployment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := cli.New("ensemble-benchfleet", "Consul with N registered nodes and two bare baselines, for scripts/bench-selector.sh.", stdout, stderr)
	var nodes int
	cli.IntAtLeastVar(app.Flag("nodes", "Jitsi nodes to register in Consul.").Default("1000"), &nodes, 1)
	return app.Run(args, func(ctx context.Context, _ cli.Session) error {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() { // the script closes our stdin (or dies) when done
			_, _ = io.Copy(io.Discard, stdin)
			stop()
		}()
		return serve(ctx, nodes, stdout)
	})
}

// serve starts Consul, registers the nodes, serves the baselines and prints their addresses,
// then waits for ctx.
func serve(ctx context.Context, nodes int, stdout io.Writer) (err error) {
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	consul, err := services.StartConsul(startCtx, services.ConsulOptions{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, consul.Close()) }()
	client, err := api.NewClient(consul.Config())
	if err != nil {
		return err
	}
	for i := range nodes {
		id := fmt.Sprintf("node-%04d", i)
		reg := &api.AgentServiceRegistration{
			ID: id, Name: "jitsi", Address: "127.0.0.1", Port: 20000 + i,
			Meta: map[string]string{"public_url": "https://" + id + ".example.org", "region": "bench", "capacity": "8",
				"sidecar_port": fmt.Sprint(20000 + i), "version": "bench"},
			// A TTL check set passing once: no health-check traffic during the run.
			Check: &api.AgentServiceCheck{CheckID: "service:" + id, TTL: "24h", Status: api.HealthPassing},
		}
		if err := client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(startCtx)); err != nil {
			return fmt.Errorf("register %s: %w", id, err)
		}
	}

	body := []byte(`{"room":"bench-room","node":"node-0001","url":"https://node-0001.example.org/bench-room"}` + "\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// The CAS baseline: what --rooms.store=consul must do at least once for a new room.
	casLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	kv := client.KV()
	value := []byte(`{"node":"node-0001","last_used_unix_ms":0}`)
	casSrv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			ok, _, err := kv.CAS(&api.KVPair{Key: "bench-cas" + r.URL.Path, Value: value}, (&api.WriteOptions{}).WithContext(ctx))
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = fmt.Fprintf(w, `{"created":%t}`+"\n", ok)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = casSrv.Serve(casLn) }()
	defer casSrv.Close()

	fmt.Fprintf(stdout, "CONSUL_HTTP_ADDR=%s\nBARE_URL=http://%s\nBARE_CAS_URL=http://%s\nREADY=1\n", consul.HTTPAddr, ln.Addr(), casLn.Addr())
	<-ctx.Done()
	return nil
}
