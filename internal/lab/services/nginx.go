package services

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// NginxOptions configures StartNginx.
type NginxOptions struct {
	// Binary is the nginx executable; empty means "nginx" on PATH.
	Binary string
	// ExtraServerConf is inserted into the server block, e.g. a
	// "location /colibri/ { proxy_pass http://...; }".
	ExtraServerConf string
	// ExtraHTTPConf is inserted into the http block (upstreams, servers).
	ExtraHTTPConf string
	// ReadyTimeout bounds the wait for stub_status; default 15s.
	ReadyTimeout time.Duration
}

// Nginx is a running nginx master with one worker.
type Nginx struct {
	// URL is http://127.0.0.1:PORT, the server that has the stub_status page.
	URL string
	// StubStatusURL is URL + "/nginx_status", answered only to 127.0.0.1.
	StubStatusURL string
	// Dir holds nginx.conf, the docroot (html/) and temp paths.
	Dir string
	// LogPath collects nginx's stderr, which is also its error log.
	LogPath string

	bin  string
	opts NginxOptions

	mu   sync.Mutex
	proc *Process
}

var nginxConf = template.Must(template.New("nginx.conf").Parse(`daemon off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path {{.Dir}}/tmp/body;
  proxy_temp_path {{.Dir}}/tmp/proxy;
  fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
  uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
  scgi_temp_path {{.Dir}}/tmp/scgi;
  server {
    listen 127.0.0.1:{{.Port}};
    root {{.Dir}}/html;
    location = /nginx_status { stub_status; allow 127.0.0.1; deny all; }
{{.Opts.ExtraServerConf}}
  }
{{.Opts.ExtraHTTPConf}}
}
`))

// StartNginx writes a config into a new temporary directory, starts nginx on
// a free port and returns once stub_status answers.
func StartNginx(ctx context.Context, opts NginxOptions) (*Nginx, error) {
	bin, err := binary("nginx", opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp("", "ensemble-nginx-")
	if err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	// Workers run as nobody when we are root; they must reach the docroot.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: %w", err)
	}
	for _, d := range []string{"html", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "html", "index.html"), []byte("ensemble test nginx\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: %w", err)
	}
	n := &Nginx{Dir: dir, LogPath: filepath.Join(dir, "nginx.log"), bin: bin, opts: opts}
	err = retryBindClash(func() error {
		err := n.start(ctx, bin, opts)
		if err != nil && bindClash(tailFile(n.LogPath, 8<<10)) {
			return fmt.Errorf("%w: %w", err, errBindClash)
		}
		return err
	})
	if err != nil {
		err = fmt.Errorf("%w\nnginx log:\n%s", err, tailFile(n.LogPath, 8<<10))
		os.RemoveAll(dir)
		return nil, err
	}
	return n, nil
}

func (n *Nginx) start(ctx context.Context, bin string, opts NginxOptions) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	var conf bytes.Buffer
	if err := nginxConf.Execute(&conf, struct {
		Dir  string
		Port int
		Opts NginxOptions
	}{n.Dir, port, opts}); err != nil {
		return fmt.Errorf("nginx config: %w", err)
	}
	confPath := filepath.Join(n.Dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("nginx config: %w", err)
	}
	n.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	n.StubStatusURL = n.URL + "/nginx_status"
	return n.run(ctx)
}

// run starts nginx on the config in Dir and waits for stub_status.
func (n *Nginx) run(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, n.opts.ReadyTimeout)
	defer cancel()
	// -e keeps nginx from opening /var/log/nginx/error.log before it reads
	// our config.
	p, err := StartProcess(rctx, ProcessSpec{
		Name: "nginx", Path: n.bin, Args: []string{"-p", n.Dir, "-e", "stderr", "-c", filepath.Join(n.Dir, "nginx.conf")},
		Dir: n.Dir, LogPath: n.LogPath,
		Ready: func(ctx context.Context, p *Process) error { return p.Poll(ctx, 20*time.Millisecond, n.ready) },
	})
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	return nil
}

func (n *Nginx) current() *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Halt stops nginx at once (SIGQUIT, then SIGKILL after 2 s) and keeps its
// directory, configuration and port for Restart: an nginx that went down
// on a node, as the chaos soak injects it.
func (n *Nginx) Halt() error {
	if p := n.current(); p != nil {
		return p.Stop(2*time.Second, syscall.SIGQUIT)
	}
	return nil
}

// Restart starts a halted nginx again on the same port and configuration
// and returns once stub_status answers.
func (n *Nginx) Restart(ctx context.Context) error {
	if p := n.current(); p != nil && p.Running() {
		return fmt.Errorf("nginx %s: already running", n.URL)
	}
	if err := n.run(ctx); err != nil {
		return fmt.Errorf("nginx restart: %w\nnginx log:\n%s", err, tailFile(n.LogPath, 8<<10))
	}
	return nil
}

// PID is the nginx master's process ID (also its process group's), or 0
// while it is not running.
func (n *Nginx) PID() int {
	if p := n.current(); p != nil && p.Running() {
		return p.PID()
	}
	return 0
}

// Signal sends sig to nginx's process group (master and workers).
func (n *Nginx) Signal(sig syscall.Signal) error {
	if p := n.current(); p != nil {
		return p.Signal(sig)
	}
	return nil
}

// ready checks that stub_status answers, which the sidecar's collector needs.
func (n *Nginx) ready(ctx context.Context) error {
	code, body, err := fetch(ctx, http.MethodGet, n.StubStatusURL, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK || !bytes.HasPrefix(body, []byte("Active connections:")) {
		return fmt.Errorf("stub_status: status %d, body %.80q", code, body)
	}
	return nil
}

// Stop shuts nginx down gracefully (QUIT), kills it after 5 s, and removes
// its directory.
func (n *Nginx) Stop() error {
	var err error
	if p := n.current(); p != nil {
		err = p.Stop(5*time.Second, syscall.SIGQUIT)
	}
	if rmErr := os.RemoveAll(n.Dir); err == nil && rmErr != nil {
		err = fmt.Errorf("nginx: remove %s: %w", n.Dir, rmErr)
	}
	return err
}

// Log returns the tail of nginx's error log.
func (n *Nginx) Log() string { return tailFile(n.LogPath, 64<<10) }
