package firstboot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/certs"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/outputs"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/source"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/userdata"
)

// Apply applies the node's user-data and records the verdict in StatusFile. On failure
// nothing is written but the verdict, one error line is logged, and the error is returned.
func Apply(ctx context.Context, o Options) (status.Status, error) {
	logger := o.logger()
	st := status.Status{}
	err := o.Validate()
	if err == nil {
		err = apply(ctx, &o, &st)
	}
	st.OK = err == nil
	if err != nil {
		st.Error = err.Error()
	}
	st.Time = o.now().UTC()
	if werr := status.Write(o.StatusFile, st); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		logger.Error("first boot failed; this node will not register", "err", err, "public_name", st.PublicName, "source", st.Source)
		return st, err
	}
	logger.Info("first boot applied", "public_name", st.PublicName, "source", st.Source, "changed", st.Changed)
	return st, nil
}

func apply(ctx context.Context, o *Options, st *status.Status) error {
	doc, from, err := source.Read(ctx, o.UserData)
	st.Source = from
	if err != nil {
		return err
	}
	cfg, err := userdata.Parse(doc, o.now())
	if err != nil {
		return err
	}
	st.PublicName = cfg.PublicName
	list, err := outputs.Load(o.OutputsFile)
	if err != nil {
		return err
	}
	// Everything is rendered and checked before the first write.
	files, err := outputs.Render(list, cfg)
	if err != nil {
		return err
	}
	if err := o.checkFirewall(ctx, files); err != nil {
		return err
	}
	if o.PrivateNetworkWait > 0 {
		if _, err := o.waitPrivateAddress(ctx, cfg.PrivateCIDR, cfg.PrivateInterface); err != nil {
			return err
		}
	}
	paths, err := o.certPaths()
	if err != nil {
		return err
	}
	changed, err := o.applyTLS(ctx, cfg, paths)
	st.Changed = append(st.Changed, changed...)
	if err != nil {
		return err
	}
	changed, err = outputs.WriteAll(files)
	st.Changed = append(st.Changed, changed...)
	return err
}

func (o *Options) certPaths() (certs.Paths, error) {
	_, gid, err := outputs.Owner("", o.TLSKeyGroup)
	if err != nil {
		return certs.Paths{}, fmt.Errorf("--tls.key-group: %w", err)
	}
	for _, p := range []string{o.TLSCertFile, o.TLSKeyFile} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return certs.Paths{}, fmt.Errorf("tls: %w", err)
		}
	}
	return certs.Paths{Cert: o.TLSCertFile, Key: o.TLSKeyFile, KeyGID: gid}, nil
}

// acmeState is what Renew needs to know between boots.
type acmeState struct {
	PublicName string `json:"public_name"`
	Directory  string `json:"directory"`
	Email      string `json:"email,omitempty"`
}

func (o *Options) statePath() string { return filepath.Join(o.ACMEDir, "state.json") }

func (o *Options) applyTLS(ctx context.Context, cfg *userdata.Config, paths certs.Paths) ([]string, error) {
	if cfg.TLS.Mode == userdata.ModeProvided {
		// A node moved from ACME to a provided certificate must not be renewed over it.
		if err := os.Remove(o.statePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("acme state: %w", err)
		}
		return certs.Install(paths, []byte(cfg.TLS.Certificate), []byte(cfg.TLS.Key))
	}
	state := acmeState{PublicName: cfg.PublicName, Directory: cfg.TLS.ACMEDirectory, Email: cfg.TLS.ACMEEmail}
	b, _ := json.MarshalIndent(state, "", "  ")
	if err := os.MkdirAll(o.ACMEDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	var changed []string
	c, err := atomicfile.Write(atomicfile.File{Path: o.statePath(), Data: append(b, '\n'), Mode: 0o600, UID: -1, GID: -1})
	if err != nil {
		return nil, fmt.Errorf("acme state: %w", err)
	}
	if c {
		changed = append(changed, o.statePath())
	}
	need, why := certs.NeedsRenewal(paths, cfg.PublicName, o.now(), o.ACMERenewBefore)
	if !need {
		return changed, nil
	}
	o.logger().Info("requesting an ACME certificate", "name", cfg.PublicName, "reason", why, "directory", state.Directory)
	a, err := o.acme(state, "")
	if err != nil {
		return changed, err
	}
	if _, cerr := certs.Current(paths, cfg.PublicName, o.now()); cerr == nil {
		actx, cancel := context.WithTimeout(ctx, o.ACMETimeout)
		defer cancel()
		chain, key, err := a.Obtain(actx, cfg.PublicName)
		if err != nil {
			// The installed certificate still works; the timer tries again.
			o.logger().Warn("ACME renewal failed; keeping the current certificate", "err", err)
			return changed, nil
		}
		c2, err := certs.Install(paths, chain, key)
		return append(changed, c2...), err
	}
	chain, key, err := o.obtainRetrying(ctx, a, cfg.PublicName)
	if err != nil {
		return changed, err
	}
	c2, err := certs.Install(paths, chain, key)
	return append(changed, c2...), err
}

func (o *Options) acme(st acmeState, webroot string) (*certs.ACME, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if o.ACMECAFile != "" {
		pemBytes, err := os.ReadFile(o.ACMECAFile)
		if err != nil {
			return nil, fmt.Errorf("--acme.ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--acme.ca-file %s: no PEM certificate", o.ACMECAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		hc.Transport = tr
	}
	return &certs.ACME{
		Directory:   st.Directory,
		Email:       st.Email,
		AccountKey:  filepath.Join(o.ACMEDir, "account.key"),
		HTTPAddress: o.ACMEHTTPAddress,
		Webroot:     webroot,
		HTTPClient:  hc,
		Logger:      o.logger(),
	}, nil
}

// Renew renews the node's ACME certificate when it expires within ACMERenewBefore, through
// the webroot nginx serves, and then runs ACMEReloadCommands. A node in provided mode has
// nothing to renew. It reports whether a new certificate was installed.
func Renew(ctx context.Context, o Options) (bool, error) {
	logger := o.logger()
	if err := o.Validate(); err != nil {
		return false, err
	}
	b, err := os.ReadFile(o.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		logger.Info("not in ACME mode; nothing to renew", "state", o.statePath())
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acme state: %w", err)
	}
	var st acmeState
	if err := json.Unmarshal(b, &st); err != nil || st.PublicName == "" || st.Directory == "" {
		return false, fmt.Errorf("acme state %s is damaged (%v); the next boot rewrites it", o.statePath(), err)
	}
	paths, err := o.certPaths()
	if err != nil {
		return false, err
	}
	need, why := certs.NeedsRenewal(paths, st.PublicName, o.now(), o.ACMERenewBefore)
	if !need {
		logger.Info("certificate is fresh; nothing to renew", "name", st.PublicName, "status", why)
		return false, nil
	}
	logger.Info("renewing the ACME certificate", "name", st.PublicName, "reason", why)
	a, err := o.acme(st, o.ACMEWebroot)
	if err != nil {
		return false, err
	}
	actx, cancel := context.WithTimeout(ctx, o.ACMETimeout)
	defer cancel()
	chain, key, err := a.Obtain(actx, st.PublicName)
	if err != nil {
		return false, err
	}
	changed, err := certs.Install(paths, chain, key)
	if err != nil {
		return false, err
	}
	if len(changed) == 0 {
		return false, nil
	}
	// Every command runs even when an earlier one failed: a failed nginx reload must not keep
	// coturn on the old certificate.
	var errs []error
	for _, cmd := range o.ACMEReloadCommands {
		if len(cmd) == 0 {
			continue
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(rctx, cmd[0], cmd[1:]...).CombinedOutput()
		rcancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate renewed, but %q failed: %w: %s", cmd, err, out))
			continue
		}
		logger.Info("certificate renewed; reload command ran", "name", st.PublicName, "command", cmd)
	}
	return true, errors.Join(errs...)
}
