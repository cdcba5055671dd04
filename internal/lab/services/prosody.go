package services

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ProsodyOptions configures StartProsody.
type ProsodyOptions struct {
	// Binary is the prosody executable; empty means $ENSEMBLE_PROSODY, else "prosody" on PATH
	// (Debian's package). The variable lets the same tests run against another version
	// (bookworm-backports' prosody 13, unpacked with dpkg -x and its launcher's CFG_*DIR
	// pointed there).
	Binary string
	// Config is appended to the global section the starter writes (ports, paths, logging);
	// it holds the VirtualHost and Component sections and any further global options.
	Config string
	// ReadyTimeout bounds the wait for the HTTP server; default 15s.
	ReadyTimeout time.Duration
}

// Prosody is a running prosody serving HTTP (BOSH, WebSocket) on a loopback port and no
// c2s, s2s or component ports. Stop, Kill, Restart, Close, Running and Log manage its
// process; Restart keeps the port and the configuration.
type Prosody struct {
	// URL is http://127.0.0.1:PORT, prosody's http port (5280 on a node).
	URL string
	// Dir holds the configuration, the data directory and the log.
	Dir string
	// LogPath collects prosody's console log.
	LogPath string

	server
}

// prosodyGlobal is the part of the configuration the starter owns. run_as_root: the tests run
// as root and prosody would otherwise switch to the prosody user, who cannot read Dir.
const prosodyGlobal = `run_as_root = true
pidfile = %[1]q
data_path = %[2]q
certificates = %[3]q
log = { { levels = { min = "info" }, to = "console" } }
c2s_ports = { }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
legacy_ssl_ports = { }
https_ports = { }
http_ports = { %[4]d }
http_interfaces = { "127.0.0.1" }
`

// StartProsody writes a configuration into a new temporary directory, starts prosody in the
// foreground on a free port and returns once its HTTP server answers.
func StartProsody(ctx context.Context, opts ProsodyOptions) (*Prosody, error) {
	bin, err := binary("prosody", cmp.Or(opts.Binary, os.Getenv("ENSEMBLE_PROSODY")))
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	var p *Prosody
	err = retryBindClash(func() error {
		port, err := FreePort()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "ensemble-prosody-")
		if err != nil {
			return fmt.Errorf("prosody: %w", err)
		}
		p = &Prosody{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, LogPath: filepath.Join(dir, "prosody.log")}
		conf := filepath.Join(dir, "prosody.cfg.lua")
		p.server = server{name: "prosody", bin: bin, dir: dir, logPath: p.LogPath,
			args: []string{"--config", conf, "-F"}, readyTimeout: opts.ReadyTimeout, check: p.ready}
		for _, d := range []string{"data", "certs"} {
			if err = os.Mkdir(filepath.Join(dir, d), 0o750); err != nil {
				break
			}
		}
		if err == nil {
			global := fmt.Sprintf(prosodyGlobal, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), filepath.Join(dir, "certs"), port)
			err = os.WriteFile(conf, []byte(global+opts.Config), 0o640)
		}
		if err == nil {
			err = p.start(ctx)
		}
		if err != nil {
			return p.failed(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ready passes once prosody's HTTP server answers on /http-bind (mod_bosh answers GET with a
// page) or, without mod_bosh, with anything at all. Prosody that cannot bind its port keeps
// running without it, so a bind clash is read from its log.
func (p *Prosody) ready(ctx context.Context) error {
	if strings.Contains(tailFile(p.LogPath, 16<<10), "Failed to open server port") {
		return fmt.Errorf("prosody: address already in use")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/http-bind", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}
