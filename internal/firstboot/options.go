// Package firstboot applies a node's user-data at every boot (docs/design/userdata.md):
// it reads and validates the user-data, puts the node's TLS certificate in place (provided,
// or from ACME), renders the configuration files listed in outputs.json, and records its
// verdict for the sidecar. Renew keeps an ACME certificate fresh afterwards.
package firstboot

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/outputs"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/source"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
)

// Options configures Apply and Renew. Field names mirror the flags of ensemble-firstboot.
type Options struct {
	// UserData says where the user-data is read (--user-data.*).
	UserData source.Options
	// OutputsFile is the list of templates to render.
	OutputsFile string
	// TLSCertFile and TLSKeyFile are where nginx reads the node's certificate and key;
	// TLSKeyGroup is the group that may read the key.
	TLSCertFile string
	TLSKeyFile  string
	TLSKeyGroup string
	// StatusFile receives the verdict.
	StatusFile string

	// ACMEDir keeps the ACME account key and the renewal state.
	ACMEDir string
	// ACMEHTTPAddress is where Apply answers the http-01 challenge (nothing else listens
	// on port 80 before nginx starts).
	ACMEHTTPAddress string
	// ACMEWebroot is where Renew writes challenge answers for nginx to serve.
	ACMEWebroot string
	// ACMERenewBefore is how long before expiry a certificate is renewed.
	ACMERenewBefore time.Duration
	// ACMETimeout bounds one ACME order.
	ACMETimeout time.Duration
	// ACMERetryFor is how long first boot keeps ordering a certificate when it has none;
	// 0 makes one attempt. ACMERetryMin is the first wait between orders; it doubles up to
	// a minute.
	ACMERetryFor time.Duration
	ACMERetryMin time.Duration
	// ACMECAFile, when set, is a PEM bundle trusted for the ACME directory's TLS (a private CA).
	ACMECAFile string
	// ACMEReloadCommands run in order after Renew installed a new certificate: nginx reloads
	// it, coturn reads its certificate only at start (TURN over TLS on 5349 would serve the
	// old one until it expires), so it is restarted if it runs.
	ACMEReloadCommands [][]string

	// PrivateNetworkWait bounds the wait for an address in the user-data's private_cidr
	// (on private_interface, when set) before anything is written; 0 (the default, for
	// machines whose network is up before boot ends) does not wait. The images set it.
	PrivateNetworkWait time.Duration
	// InterfaceAddrs lists the host's addresses; nil reads the real interfaces.
	InterfaceAddrs InterfaceAddrs

	// NftFragments is a glob of the outputs that are rules of the input chain (included by
	// /etc/nftables.conf); they are checked with `NftCommand -c` before anything is written.
	// Empty skips the check.
	NftFragments string
	// NftCommand is the nft binary.
	NftCommand string

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults of the ensemble-firstboot flags.
func DefaultOptions() Options {
	return Options{
		UserData:           source.DefaultOptions(),
		OutputsFile:        outputs.DefaultPath,
		TLSCertFile:        "/etc/ssl/ensemble/node.crt",
		TLSKeyFile:         "/etc/ssl/ensemble/node.key",
		TLSKeyGroup:        "ssl-cert",
		StatusFile:         status.DefaultPath,
		ACMEDir:            "/var/lib/ensemble/acme",
		ACMEHTTPAddress:    ":80",
		ACMEWebroot:        "/var/lib/ensemble/acme-challenge",
		ACMERenewBefore:    30 * 24 * time.Hour,
		ACMETimeout:        5 * time.Minute,
		ACMERetryFor:       10 * time.Minute,
		ACMERetryMin:       5 * time.Second,
		ACMEReloadCommands: [][]string{{"systemctl", "reload", "nginx"}, {"systemctl", "try-restart", "coturn"}},
		NftFragments:       "/etc/nftables.d/input-*.nft",
		NftCommand:         "nft",
	}
}

// Validate checks the options before anything runs.
func (o *Options) Validate() error {
	var errs []error
	required := func(flag, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("--%s must not be empty", flag))
		}
	}
	if o.UserData.File == "" {
		required("user-data.cloud-init-file", o.UserData.CloudInitFile)
	}
	required("outputs.file", o.OutputsFile)
	required("tls.cert-file", o.TLSCertFile)
	required("tls.key-file", o.TLSKeyFile)
	required("status.file", o.StatusFile)
	required("acme.dir", o.ACMEDir)
	if o.UserData.Kind != source.CloudInit && o.UserData.Kind != source.Scaleway {
		errs = append(errs, fmt.Errorf("--user-data.source must be %s or %s, got %q", source.CloudInit, source.Scaleway, o.UserData.Kind))
	}
	if o.ACMERenewBefore <= 0 || o.ACMETimeout <= 0 || o.UserData.Timeout <= 0 {
		errs = append(errs, errors.New("--acme.renew-before, --acme.timeout and --user-data.timeout must be positive"))
	}
	if o.PrivateNetworkWait < 0 {
		errs = append(errs, errors.New("--private-network.wait must not be negative"))
	}
	if o.ACMERetryFor < 0 || o.ACMERetryMin <= 0 {
		errs = append(errs, errors.New("--acme.retry-for must not be negative, and the first retry wait must be positive"))
	}
	return errors.Join(errs...)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}
