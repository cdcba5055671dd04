package load

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/catalog"
)

// serveProtected serves testdata/sidecar.txt on /metrics through exporter-toolkit with TLS and
// basic auth, as a sidecar with --web.config.file does, and returns its node.
func serveProtected(t *testing.T, user, password string) (catalog.Node, testenv.Cert) {
	t.Helper()
	dir := t.TempDir()
	cert := testenv.SelfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	body := "tls_server_config:\n  cert_file: " + cert.CertFile + "\n  key_file: " + cert.KeyFile +
		"\nbasic_auth_users:\n  " + user + ": " + string(hash) + "\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics, err := os.ReadFile("testdata/sidecar.txt")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(metrics) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	addrs, systemd := []string{l.Addr().String()}, false
	done := make(chan error, 1)
	go func() {
		done <- web.Serve(l, srv, &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &cfg}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return nodeFor(t, "tls", l.Addr().String()), cert
}

// TestDirectTLSBasicAuth: the direct source reads a sidecar that requires TLS and basic auth,
// and fails clearly without them.
func TestDirectTLSBasicAuth(t *testing.T) {
	node, cert := serveProtected(t, "selector", "s3cret-pw")
	client := func() *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig.RootCAs = cert.Pool
		return &http.Client{Transport: tr}
	}
	for _, tc := range []struct {
		name     string
		cfg      Config
		wantErr  string
		wantLoad bool
	}{
		{"https with credentials", Config{Scheme: "https", HTTPClient: client(), BasicAuthUser: "selector", BasicAuthPassword: "s3cret-pw"}, "", true},
		{"wrong password", Config{Scheme: "https", HTTPClient: client(), BasicAuthUser: "selector", BasicAuthPassword: "nope"}, "401", false},
		{"no credentials", Config{Scheme: "https", HTTPClient: client()}, "401", false},
		{"plain http", Config{Scheme: "http", BasicAuthUser: "selector", BasicAuthPassword: "s3cret-pw"}, "400", false},
		{"untrusted certificate", Config{Scheme: "https", BasicAuthUser: "selector", BasicAuthPassword: "s3cret-pw"}, "certificate", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Timeout = 5 * time.Second
			src, err := Builtin().New("direct", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Fetch(context.Background(), []catalog.Node{node})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Fetch = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := got["tls"]; !ok || s.Endpoints != 42 {
				t.Errorf("sample = %+v, want the endpoints of testdata/sidecar.txt", s)
			}
		})
	}
}

func TestSchemeValidated(t *testing.T) {
	if _, err := Builtin().New("direct", Config{Scheme: "ftp"}); err == nil {
		t.Fatal("scheme ftp accepted")
	}
}

// TestDirectNoRedirects: a sidecar answering with a redirect is not followed (credentials and
// the scrape would go to whatever the redirect names).
func TestDirectNoRedirects(t *testing.T) {
	var hits atomic.Int32
	other := http.NewServeMux()
	other.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) })
	otherSrv := startHTTP(t, other)
	redirect := http.NewServeMux()
	redirect.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+otherSrv+"/metrics", http.StatusFound)
	})
	src, err := Builtin().New("direct", Config{Timeout: 5 * time.Second, BasicAuthUser: "u", BasicAuthPassword: "p"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), []catalog.Node{nodeFor(t, "r", startHTTP(t, redirect))})
	if err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("Fetch = %v, want a 302 status error", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target was requested %d times", n)
	}
}

func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}
