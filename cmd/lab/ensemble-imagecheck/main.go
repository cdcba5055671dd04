// Command ensemble-imagecheck runs one of the image test's HTTP, Consul and Prometheus checks
// (scripts/test-images.sh calls it inside the test's network namespaces) and prints what it saw
// once it passed. It exits 0 when the check passed, 1 when it still failed at --timeout, 2 on
// bad flags. Consul is reached through CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN, as the consul
// command does. Lab only: no shipped binary links internal/lab/imagecheck.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/lab/imagecheck"
)

// interval is how often a failing check is tried again, as the shell's poll did.
const interval = 200 * time.Millisecond

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: it runs its check within timeout and returns what to print.
type command func(ctx context.Context, timeout time.Duration) (string, error)

func run(args []string, stdout, stderr io.Writer) int {
	app := cli.New("ensemble-imagecheck", "One HTTP, Consul or Prometheus check of the image test (scripts/test-images.sh).", stdout, stderr)
	var timeout time.Duration
	app.Flag("timeout", "How long a failing check is tried again, every 200ms (0: once).").Default("0s").DurationVar(&timeout)
	commands := map[string]command{}
	until := func(ctx context.Context, timeout time.Duration, check func(context.Context) error, done string) (string, error) {
		return done, imagecheck.Until(ctx, timeout, interval, check)
	}

	c := app.Command("passing", "The passing instances of a Consul service are exactly --want, or do not include --not.")
	service := c.Flag("service", "Consul service.").Default("jitsi").String()
	want := c.Flag("want", "public_url of a passing instance (repeatable): the passing set must be exactly these.").Strings()
	not := c.Flag("not", "public_url that must not be passing.").String()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		client, err := consul()
		if err != nil {
			return "", err
		}
		switch {
		case *not != "" && len(*want) == 0:
			return until(ctx, timeout, imagecheck.WantNotPassing(client.Health(), *service, *not), *not+" not passing")
		case *not == "" && len(*want) > 0:
			return until(ctx, timeout, imagecheck.WantPassing(client.Health(), *service, *want), "passing: "+strings.Join(*want, " "))
		}
		return "", cli.UsageError(errors.New("passing takes --want or --not"))
	}

	c = app.Command("created", "Print the catalog's CreateIndex of the one instance of a service with this public_url.")
	createdService := c.Flag("service", "Consul service.").Default("jitsi").String()
	publicURL := c.Flag("public-url", "The instance's public_url.").Required().String()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		client, err := consul()
		if err != nil {
			return "", err
		}
		var index uint64
		err = imagecheck.Until(ctx, timeout, interval, func(ctx context.Context) (err error) {
			index, err = imagecheck.CreateIndex(ctx, client.Catalog(), *createdService, *publicURL)
			return err
		})
		return strconv.FormatUint(index, 10), err
	}

	c = app.Command("node-absent", "The Consul catalog lists no node of this name.")
	node := c.Flag("node", "Node name.").Required().String()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		client, err := consul()
		if err != nil {
			return "", err
		}
		return until(ctx, timeout, imagecheck.NodeAbsent(client.Catalog(), *node), *node+" not in the catalog")
	}

	c = app.Command("metrics", "A metrics page has each --want sample, without labels.")
	metricsURL := c.Flag("url", "Metrics URL.").Required().String()
	samples := c.Flag("want", "NAME=VALUE (repeatable).").Required().StringMap()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		want := make(map[string]float64, len(*samples))
		for name, v := range *samples {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return "", cli.UsageError(fmt.Errorf("--want %s=%s: %w", name, v, err))
			}
			want[name] = f
		}
		return until(ctx, timeout, imagecheck.Metrics(imagecheck.Direct(), *metricsURL, want), "metrics as wanted at "+*metricsURL)
	}

	c = app.Command("prometheus", "An instant query returns at least one series, each 1.")
	promURL := c.Flag("url", "Prometheus base URL.").Required().String()
	query := c.Flag("query", "PromQL instant query.").Required().String()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		return until(ctx, timeout, imagecheck.QueryIsOne(*promURL, *query), *query+" is 1")
	}

	c = app.Command("drain", "The sidecar's GET /drain says this state.")
	drainURL := c.Flag("url", "The sidecar's /drain URL.").Default("http://127.0.0.1:9106/drain").String()
	state := c.Flag("want", "serving, draining or drained.").Required().Enum("serving", "draining", "drained")
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		return until(ctx, timeout, imagecheck.DrainState(imagecheck.Direct(), *drainURL, *state), *state)
	}

	c = app.Command("redirect", "GET --url, not followed, redirects to --location-prefix.")
	var r imagecheck.Redirect
	redirectURL := c.Flag("url", "URL to GET.").Required().String()
	c.Flag("host", "Host header to send.").StringVar(&r.Host)
	c.Flag("location-prefix", "What the Location header must start with.").Required().StringVar(&r.LocationPrefix)
	c.Flag("server", "The exact Server header (empty: any).").StringVar(&r.Server)
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		return until(ctx, timeout, r.Check(imagecheck.NoRedirects(), *redirectURL), "redirects to "+r.LocationPrefix)
	}

	c = app.Command("spread", "Once the selector is ready (within --timeout), it redirects new rooms to the --node URLs, each at least once.")
	selectorURL := c.Flag("url", "Selector base URL.").Required().String()
	rooms := c.Flag("rooms", "New rooms to ask for.").Default("12").Int()
	nodes := c.Flag("node", "A node's public URL (repeatable).").Required().Strings()
	commands[c.FullCommand()] = func(ctx context.Context, timeout time.Duration) (string, error) {
		if err := imagecheck.Until(ctx, timeout, interval, imagecheck.Ready(imagecheck.Direct(), *selectorURL+"/-/ready")); err != nil {
			return "", fmt.Errorf("the selector is not ready: %w", err)
		}
		got, err := imagecheck.Spread(ctx, imagecheck.NoRedirects(), *selectorURL, *rooms, *nodes)
		parts := make([]string, 0, len(*nodes))
		for _, n := range *nodes {
			parts = append(parts, fmt.Sprintf("%d to %s", got[n], n))
		}
		return fmt.Sprintf("%d new rooms: %s", *rooms, strings.Join(parts, ", ")), err
	}

	if len(args) == 0 {
		// kingpin shows the help and ends with 0 when no command is given: a check that did not
		// run must not pass.
		fmt.Fprintln(stderr, "ensemble-imagecheck: error: command not specified (see --help)")
		return cli.ExitUsage
	}
	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		done, err := commands[s.Command](ctx, timeout)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Command, err)
		}
		fmt.Fprintln(stdout, done)
		return nil
	})
}

// consul is a client configured as the consul command is, from CONSUL_HTTP_ADDR and
// CONSUL_HTTP_TOKEN.
func consul() (*api.Client, error) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	return c, nil
}
