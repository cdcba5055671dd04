// Command ensemble-firstboot applies a node's cloud-init user-data at every boot, before
// Consul, nginx, the videobridge, coturn and the sidecar start (apply, the default), and
// renews the node's ACME certificate from a systemd timer (renew). See
// docs/design/userdata.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ensemble-jitsi/ensemble/internal/cli"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/source"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit code: 0 on success, 1 when the node could not be applied (or the
// certificate not renewed), 2 on bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	o := firstboot.DefaultOptions()
	app := cli.New("ensemble-firstboot", "Applies this node's user-data (identity, certificates, secrets) at boot, "+
		"and renews its ACME certificate. The verdict goes to --status.file, which the sidecar reads.", stdout, stderr)
	app.Flag("user-data.file", "Read the user-data from this file only.").StringVar(&o.UserData.File)
	app.Flag("user-data.source", "Where the user-data is: cloud-init (its copy on disk) or scaleway (the metadata API, then the copy).").
		Default(o.UserData.Kind).EnumVar(&o.UserData.Kind, source.CloudInit, source.Scaleway)
	app.Flag("user-data.cloud-init-file", "cloud-init's copy of the user-data.").Default(o.UserData.CloudInitFile).StringVar(&o.UserData.CloudInitFile)
	app.Flag("user-data.scaleway-url", "Base URL of the Scaleway instance metadata API.").Default(o.UserData.ScalewayURL).StringVar(&o.UserData.ScalewayURL)
	cli.PositiveDurationVar(app.Flag("user-data.timeout", "Longest wait for the user-data, retries included.").Default(o.UserData.Timeout.String()), &o.UserData.Timeout)
	app.Flag("outputs.file", "List of templates to render (written by the image's Ansible roles).").Default(o.OutputsFile).StringVar(&o.OutputsFile)
	app.Flag("tls.cert-file", "Where the node's certificate chain goes (0644).").Default(o.TLSCertFile).StringVar(&o.TLSCertFile)
	app.Flag("tls.key-file", "Where the node's private key goes (0640, root and --tls.key-group).").Default(o.TLSKeyFile).StringVar(&o.TLSKeyFile)
	app.Flag("tls.key-group", "Group that may read the private key.").Default(o.TLSKeyGroup).StringVar(&o.TLSKeyGroup)
	app.Flag("status.file", "Where the verdict goes; the sidecar's --node.firstboot-status reads it.").Default(o.StatusFile).StringVar(&o.StatusFile)
	app.Flag("private-network.wait", "Longest wait for an address in the user-data's private_cidr before anything is written (0: no wait; the images set 2m).").Default(o.PrivateNetworkWait.String()).DurationVar(&o.PrivateNetworkWait)
	app.Flag("acme.dir", "Directory of the ACME account key and renewal state.").Default(o.ACMEDir).StringVar(&o.ACMEDir)
	app.Flag("acme.http-address", "Where apply answers the ACME http-01 challenge (before nginx starts).").Default(o.ACMEHTTPAddress).StringVar(&o.ACMEHTTPAddress)
	app.Flag("acme.webroot", "Directory nginx serves at /.well-known/acme-challenge/ (renew writes the answers there).").Default(o.ACMEWebroot).StringVar(&o.ACMEWebroot)
	cli.PositiveDurationVar(app.Flag("acme.renew-before", "Renew an ACME certificate that expires within this long.").Default(o.ACMERenewBefore.String()), &o.ACMERenewBefore)
	cli.PositiveDurationVar(app.Flag("acme.timeout", "Longest time one ACME order may take.").Default(o.ACMETimeout.String()), &o.ACMETimeout)
	app.Flag("acme.retry-for", "How long first boot keeps retrying the order of a certificate it lacks (the unit's TimeoutStartSec must exceed it; 0: one attempt).").Default(o.ACMERetryFor.String()).DurationVar(&o.ACMERetryFor)
	app.Flag("acme.ca-file", "PEM bundle trusted for the ACME directory's TLS (a private ACME CA); empty: the system's.").StringVar(&o.ACMECAFile)
	var reloads []string
	for _, r := range o.ACMEReloadCommands {
		reloads = append(reloads, strings.Join(r, " "))
	}
	reload := app.Flag("acme.reload-command", "Command run after renew installed a new certificate (split on spaces; repeatable, run in order; empty: none).").
		Default(reloads...).Strings()
	apply := app.Command("apply", "Apply the user-data and write the verdict (the default).").Default()
	renew := app.Command("renew", "Renew the ACME certificate if it expires soon, then reload nginx.")

	return app.Run(args, func(ctx context.Context, s cli.Session) error {
		o.ACMEReloadCommands = nil
		for _, r := range *reload {
			if f := strings.Fields(r); len(f) > 0 {
				o.ACMEReloadCommands = append(o.ACMEReloadCommands, f)
			}
		}
		o.Logger = s.Logger
		if err := o.Validate(); err != nil {
			return cli.UsageError(err)
		}
		switch s.Command {
		case apply.FullCommand():
			if _, err := firstboot.Apply(ctx, o); err != nil {
				return cli.Reported(err) // Apply logged the one line
			}
		case renew.FullCommand():
			if _, err := firstboot.Renew(ctx, o); err != nil {
				return fmt.Errorf("certificate renewal: %w", err)
			}
		}
		return nil
	})
}
