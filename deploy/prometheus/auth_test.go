package prometheus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestScrapeWithTLSAndBasicAuth turns on the shipped "#@auth" lines of the jitsi job and lets
// a real Prometheus scrape a sidecar-like target that requires TLS and basic auth (through
// exporter-toolkit, as the sidecar's --web.config.file does): up is 1, and 0 with a wrong
// password.
func TestScrapeWithTLSAndBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name, password string
		up             float64
	}{{"right password", "s3cret-scrape", 1}, {"wrong password", "wrong", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cert := testenv.SelfSigned(t, dir)
			addr := serveAuth(t, dir, cert, "prometheus", "s3cret-scrape")
			caFile := cert.CertFile
			pwFile := filepath.Join(dir, "password")
			if err := os.WriteFile(pwFile, []byte(tc.password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile("prometheus-http-sd.yml")
			if err != nil {
				t.Fatal(err)
			}
			cfg := string(b)
			if strings.Count(cfg, "\n    #@auth ") != 6 {
				t.Fatalf("prometheus-http-sd.yml lost its #@auth lines")
			}
			cfg = strings.ReplaceAll(cfg, "\n    #@auth ", "\n    ")
			cfg = strings.Replace(cfg, "/etc/prometheus/ensemble-sidecar-ca.pem", caFile, 1)
			cfg = strings.Replace(cfg, "/etc/prometheus/ensemble-sidecar-password", pwFile, 1)
			cfg = strings.Replace(cfg, "scrape_interval: 5s", "scrape_interval: 1s", 1)
			cfg = strings.Replace(cfg, "scrape_timeout: 4s", "scrape_timeout: 900ms", 1)
			sd := regexp.MustCompile(`(?m)^    http_sd_configs:\n      - url: http://127.0.0.1:8080/api/v1/sd\n        refresh_interval: 5s\n`)
			if !sd.MatchString(cfg) {
				t.Fatal("the jitsi job's discovery block changed; update this test")
			}
			cfg = sd.ReplaceAllLiteralString(cfg, "    static_configs:\n      - targets: ['"+addr+"']\n")
			p := testenv.StartPrometheus(t, cfg)
			testenv.WaitFor(t, 30*time.Second, func() error {
				s := p.Query(t, `up{job="jitsi"}`)
				if len(s) != 1 {
					return errors.New("no up sample yet")
				}
				if got := s[0].Value; got != tc.up {
					return fmt.Errorf("up = %v", got)
				}
				return nil
			})
		})
	}
}

// serveAuth serves a one-line /metrics with TLS and basic auth through exporter-toolkit.
func serveAuth(t *testing.T, dir string, cert testenv.Cert, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: "+cert.CertFile+"\n  key_file: "+cert.KeyFile+
		"\nbasic_auth_users:\n  "+user+": "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("# TYPE ensemble_test gauge\nensemble_test 1\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	addrs, systemd := []string{l.Addr().String()}, false
	go func() {
		_ = web.Serve(l, srv, &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &cfg}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}
