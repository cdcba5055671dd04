// Command ensemble-jvbemu serves an emulated Jitsi Videobridge private REST
// API (and its /emulator/ control API) until SIGINT or SIGTERM. It prints
// "listening on http://ADDR" on stdout once it accepts connections.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var opts jvbemu.RunOptions
	app := cli.New("ensemble-jvbemu", "Emulate a Jitsi Videobridge's private REST API for tests and the demo.", stdout, stderr)
	app.Flag("web.listen-address", "Address to listen on; port 0 picks a free one.").
		Default("127.0.0.1:0").StringVar(&opts.ListenAddress)
	app.Flag("jvb.version", "Version reported by /about/version and the stats.").
		Default(jvbemu.DefaultVersion).StringVar(&opts.Emulator.Version)
	app.Flag("jvb.release", "The stats \"release\" field (left out when empty).").StringVar(&opts.Emulator.Release)
	app.Flag("jvb.region", "The stats \"region\" field (left out when empty).").StringVar(&opts.Emulator.Region)
	app.Flag("jvb.relay-id", "The stats \"relay_id\" field, as with relay enabled (left out when empty).").
		StringVar(&opts.Emulator.RelayID)
	app.Flag("jvb.shutdown-disabled", "Answer 404 on /colibri/shutdown, as JVB does by default (videobridge.rest.shutdown.enabled=false).").
		BoolVar(&opts.Emulator.ShutdownDisabled)
	cli.PositiveDurationVar(app.Flag("fault.slow-delay", "Delay of the \"slow\" fault.").Default("2s"), &opts.Emulator.SlowDelay)
	huge := app.Flag("fault.huge-bytes", "Body size of the \"huge\" fault.").Default("64MiB").Bytes()
	app.Flag("conference", "Start a conference of this size (repeatable).").IntsVar(&opts.Conferences)

	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		opts.Emulator.HugeBytes = int64(*huge)
		opts.Logger = s.Logger
		opts.Listening = func(addr net.Addr) { fmt.Fprintf(stdout, "listening on http://%s\n", addr) }
		return jvbemu.Run(ctx, opts)
	})
}
