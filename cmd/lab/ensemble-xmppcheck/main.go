// Command ensemble-xmppcheck is the lab's XMPP and TURN round trip against a Jitsi node: an
// anonymous login over WebSocket and BOSH through the node's nginx, a MUC join, and the
// XEP-0215 TURN services checked. It prints the report as JSON on stdout and exits 0 when
// every leg passed, 1 when one failed, 2 on bad flags. See internal/lab/xmppcheck for the
// flags. Lab only: no shipped binary links it.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/internal/lab/xmppcheck"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o xmppcheck.Options
	app := kingpin.New("ensemble-xmppcheck", "XMPP (WebSocket, BOSH) and TURN round trip against a Jitsi node, as JSON on stdout.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Flag("websocket-url", "wss://NODE/xmpp-websocket (empty: skip the WebSocket leg).").StringVar(&o.WebSocketURL)
	app.Flag("bosh-url", "https://NODE/http-bind (empty: skip the BOSH leg).").StringVar(&o.BOSHURL)
	app.Flag("domain", "XMPP domain (config.js hosts.domain).").Default("meet.jitsi").StringVar(&o.Domain)
	app.Flag("muc-domain", "MUC domain of the rooms (config.js hosts.muc).").Default("conference.meet.jitsi").StringVar(&o.MUCDomain)
	app.Flag("room", "Room to join (default: a random ensemble-check-* name).").StringVar(&o.Room)
	app.Flag("expect-turn-host", "A turn/turns service must name this host (the node's public name).").StringVar(&o.ExpectTURNHost)
	app.Flag("creator-jid", "User that may create rooms (focus@auth.meet.jitsi on a Jitsi node); it logs in over WebSocket and creates the room first.").StringVar(&o.CreatorJID)
	creatorFile := app.Flag("creator-password-file", "File with --creator-jid's password.").String()
	secretFile := app.Flag("turn-secret-file", "File with the TURN shared secret, to verify the passwords.").String()
	caFile := app.Flag("tls.ca-file", "PEM CA trusted for the node's certificate.").String()
	insecure := app.Flag("tls.insecure-skip-verify", "Accept any certificate (self-signed lab nodes).").Bool()
	app.Flag("connect-address", "host:port to connect to instead of the URLs' host, which still names the server for TLS and HTTP (a node without DNS).").StringVar(&o.ConnectAddress)
	app.Flag("timeout", "Bound of each leg.").Default("30s").DurationVar(&o.Timeout)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ensemble-xmppcheck: %v\n", err)
		return 2
	}
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintf(stderr, "ensemble-xmppcheck: --turn-secret-file: %v\n", err)
			return 2
		}
		o.TURNSecret = strings.TrimSpace(string(b))
	}
	if *creatorFile != "" {
		b, err := os.ReadFile(*creatorFile)
		if err != nil {
			fmt.Fprintf(stderr, "ensemble-xmppcheck: --creator-password-file: %v\n", err)
			return 2
		}
		o.CreatorPassword = strings.TrimSpace(string(b))
	}
	if *caFile != "" || *insecure {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: *insecure} // #nosec G402 -- lab flag
		if *caFile != "" {
			pemBytes, err := os.ReadFile(*caFile)
			if err != nil {
				fmt.Fprintf(stderr, "ensemble-xmppcheck: --tls.ca-file: %v\n", err)
				return 2
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				fmt.Fprintf(stderr, "ensemble-xmppcheck: --tls.ca-file %s: no PEM certificate\n", *caFile)
				return 2
			}
			o.TLSConfig.RootCAs = pool
		}
	}
	if err := o.Validate(); err != nil {
		fmt.Fprintf(stderr, "ensemble-xmppcheck: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := xmppcheck.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "ensemble-xmppcheck: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
	if !rep.OK {
		return 1
	}
	return 0
}
