package services

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// HAProxyOptions configures StartHAProxy.
type HAProxyOptions struct {
	// Binary is the haproxy executable; empty means "haproxy" on PATH (Debian's package).
	Binary string
	// Config holds the frontends and backends; StartHAProxy adds the global and defaults
	// sections and a statistics listener on a free loopback port.
	Config string
	// ReadyTimeout bounds the wait for the statistics page; default 15s.
	ReadyTimeout time.Duration
}

// HAProxy is a running haproxy in the foreground (-db).
type HAProxy struct {
	// StatsURL is http://127.0.0.1:PORT/stats; StatsURL+";csv" is the CSV form Stats reads.
	StatsURL string
	// Dir holds haproxy.cfg; LogPath collects its output.
	Dir, LogPath string
	proc         *Process
}

const haproxyHead = `global
  maxconn 4096
  log stderr format short local0
defaults
  log global
  option log-health-checks
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout check 2s
frontend ensemble-stats
  mode http
  bind 127.0.0.1:%d
  stats enable
  stats uri /stats
`

// StartHAProxy writes the configuration into a new temporary directory, checks it with
// haproxy -c, starts haproxy and returns once the statistics page answers.
func StartHAProxy(ctx context.Context, opts HAProxyOptions) (*HAProxy, error) {
	bin, err := binary("haproxy", opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp("", "ensemble-haproxy-")
	if err != nil {
		return nil, fmt.Errorf("haproxy: %w", err)
	}
	h := &HAProxy{Dir: dir, LogPath: filepath.Join(dir, "haproxy.log")}
	err = retryBindClash(func() error {
		err := h.start(ctx, bin, opts)
		if err != nil && bindClash(tailFile(h.LogPath, 8<<10)) {
			return fmt.Errorf("%w: %w", err, errBindClash)
		}
		return err
	})
	if err != nil {
		err = fmt.Errorf("%w\nhaproxy log:\n%s", err, tailFile(h.LogPath, 8<<10))
		os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

func (h *HAProxy) start(ctx context.Context, bin string, opts HAProxyOptions) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(h.Dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(haproxyHead, port)+opts.Config), 0o644); err != nil {
		return fmt.Errorf("haproxy config: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(cctx, bin, "-c", "-q", "-f", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy -c: %w: %s", err, out)
	}
	h.StatsURL = fmt.Sprintf("http://127.0.0.1:%d/stats", port)
	h.proc, err = StartProcess(cctx, ProcessSpec{
		Name: "haproxy", Path: bin, Args: []string{"-db", "-f", conf}, Dir: h.Dir, LogPath: h.LogPath,
		Ready: func(ctx context.Context, p *Process) error {
			return p.Poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
				_, err := h.Stats(ctx)
				return err
			})
		},
	})
	return err
}

// Stats returns one row per proxy and server of the statistics CSV, keyed by column name
// (pxname, svname, status, chkfail, chkdown, ...).
func (h *HAProxy) Stats(ctx context.Context) ([]map[string]string, error) {
	code, body, err := fetch(ctx, http.MethodGet, h.StatsURL+";csv", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("haproxy stats: status %d", code)
	}
	return parseStatsCSV(body)
}

// parseStatsCSV reads HAProxy's statistics CSV, whose header line starts with "# ".
func parseStatsCSV(body []byte) ([]map[string]string, error) {
	body = bytes.TrimPrefix(body, []byte("# "))
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxy stats: %w", err)
	}
	if len(recs) < 1 || len(recs[0]) < 2 || recs[0][0] != "pxname" {
		return nil, fmt.Errorf("haproxy stats: no header in %.80q", body)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(recs[0]) && recs[0][i] != "" {
				row[strings.TrimSpace(recs[0][i])] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Stop stops haproxy (SIGTERM, SIGKILL after 5 s) and removes its directory.
func (h *HAProxy) Stop() error {
	var err error
	if h.proc != nil {
		err = h.proc.Stop(5*time.Second, syscall.SIGTERM)
	}
	if rmErr := os.RemoveAll(h.Dir); err == nil && rmErr != nil {
		err = fmt.Errorf("haproxy: remove %s: %w", h.Dir, rmErr)
	}
	return err
}

// Log returns the tail of haproxy's output.
func (h *HAProxy) Log() string { return tailFile(h.LogPath, 64<<10) }
